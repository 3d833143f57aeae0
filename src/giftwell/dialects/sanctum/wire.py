"""Reading a Giftcards B2B request the way the vendor's Laravel application reads it.

Laravel's global middleware trims every input string and turns empty strings into null; a body
it cannot decode is simply no input, so the field rules report what is missing. The rules are
the vendor's form-request rules (`giftcard_code: required|string|max:255`, `amount:
required|numeric|gt:0`, `reason: nullable|string|max:255`), checked for every field at once,
before any card is looked up. Whether the amount fits the card's currency is the domain's
business (`money.to_minor`), not this module's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

MAX_STRING = 255
# PHP's is_numeric: optional sign, digits with an optional point (or a point and digits), and an
# optional exponent. Python-only spellings such as "1_000", "NaN" or "Infinity" are not numbers.
_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_PHP_WHITESPACE = " \t\n\r\0\x0b"


class InvalidInput(Exception):
    """The request broke a field rule: Laravel's 422 with `errors` keyed by field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid input: " + ", ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class GiftcardRequest:
    """A request that passed the field rules. `code` is as sent (trimmed); `amount` in major units."""

    code: str
    amount: Decimal | None = None
    reason: str | None = None


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """The request's input: a JSON object (numbers kept as exact decimals) or a form body.
    Anything unreadable is no input at all, as in Laravel."""
    if content_type.partition(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        try:
            data: Any = dict(parse_qsl(raw.decode("utf-8")))
        except (UnicodeDecodeError, ValueError):
            data = {}
    else:
        try:
            data = json.loads(raw, parse_float=Decimal, parse_int=Decimal, parse_constant=_not_json_constant)
        except (ValueError, RecursionError):
            data = {}
    if not isinstance(data, dict):
        return {}
    return {str(k): _convert(v) for k, v in data.items()}


def _convert(value: Any) -> Any:
    """Laravel's TrimStrings and ConvertEmptyStringsToNull middleware."""
    if isinstance(value, str):
        return value.strip(_PHP_WHITESPACE) or None
    return value


def _present(value: Any) -> bool:
    """Laravel's `required`: not null, not an empty string (already null), not an empty array."""
    return value is not None and not (isinstance(value, (list, dict)) and not value)


def _string(field: str, value: Any, errors: dict[str, list[str]]) -> str | None:
    if not isinstance(value, str):
        errors[field] = [f"The {field} must be a string."]
        return None
    if len(value) > MAX_STRING:
        errors[field] = [f"The {field} must not be greater than {MAX_STRING} characters."]
        return None
    return value


def _number(field: str, value: Any, errors: dict[str, list[str]]) -> Decimal | None:
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, str) and _NUMERIC.fullmatch(value):
        # A numeric string ("10.50") passes Laravel's numeric rule; read it exactly.
        number = Decimal(value)
    else:
        errors[field] = [f"The {field} must be a number."]
        return None
    if not number > 0:
        errors[field] = [f"The {field} must be greater than 0."]
        return None
    return number


def read(data: dict[str, Any], *, amount: bool, reason: bool) -> GiftcardRequest:
    """Apply the endpoint's field rules; raises `InvalidInput` listing every field that fails."""
    errors: dict[str, list[str]] = {}
    code = None
    if not _present(data.get("giftcard_code")):
        errors["giftcard_code"] = ["The giftcard_code field is required."]
    else:
        code = _string("giftcard_code", data["giftcard_code"], errors)
    number = None
    if amount:
        if not _present(data.get("amount")):
            errors["amount"] = ["The amount field is required."]
        else:
            number = _number("amount", data["amount"], errors)
    why = None
    if reason and data.get("reason") is not None:
        why = _string("reason", data["reason"], errors)
    if errors or code is None:
        raise InvalidInput(errors)
    return GiftcardRequest(code, number, why)
