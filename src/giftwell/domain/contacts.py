"""Email addresses and phone numbers: the one syntax check for each, wherever one comes in (a
sign-in, a card's sender or recipient, an order's recipient, a notification).

An email address is trimmed and lowercased, at most 320 characters, with a local part of 1 to 64
characters and a domain holding a dot; characters that would let it smuggle a second address or
a header into a message (`<>",;` and whitespace) are refused. A phone number is E.164 (`+`, a
country code, 8 to 15 digits in all) once spaces, dots, dashes and parentheses are dropped.
"""

from __future__ import annotations

import re

from giftwell.domain.errors import ValidationFailed

MAX_EMAIL = 320
_EMAIL = re.compile(r"^[^@\s<>\",;]{1,64}@[^@\s<>\",;]+\.[^@\s<>\",;.]+$")
_PHONE = re.compile(r"^\+[1-9][0-9]{7,14}$")


def check_email(value: str, *, param: str = "email", label: str | None = None) -> str:
    """The address trimmed and lowercased, or `ValidationFailed` naming `param`."""
    email = value.strip().lower() if isinstance(value, str) else ""
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise ValidationFailed(f"{label or param} is not a valid email address", param=param)
    return email


def normalize_phone(raw: str) -> str:
    return re.sub(r"[\s().-]", "", raw)


def check_phone(value: str, *, param: str = "phone", label: str | None = None) -> str:
    """The number in E.164 form, or `ValidationFailed` naming `param`."""
    number = normalize_phone(value.strip()) if isinstance(value, str) else ""
    if not _PHONE.match(number):
        raise ValidationFailed(f"{label or param} must be a phone number in E.164 form, like +15550100123", param=param)
    return number
