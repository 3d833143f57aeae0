"""Reading Wix Gift Cards requests: JSON bodies with Wix's field names and rules.

Field problems are collected as Wix field violations (`WireError`: field path, description,
violated rule) and answered 400 `validationError`; a code that is not 8 to 20 letters and digits
is `InvalidCode`, Wix's 428 `INVALID_CODE`. Amounts are decimal strings; a JSON number is refused
(it may have passed through a float), and so are more places than the currency has: never rounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from giftwell.domain.cards import CardSource

MAX_BODY = 64 * 1024
_CODE = re.compile(r"^[A-Za-z0-9]{8,20}$")
_DECIMAL = re.compile(r"^[0-9]{1,30}(\.[0-9]{1,30})?$")
SOURCES = {"ORDER": CardSource.ORDER, "MANUAL": CardSource.MANUAL}
DEFAULT_LIMIT = 50


class WireError(Exception):
    """Field violations: `(field, description, violatedRule)` each."""

    def __init__(self, violations: list[tuple[str, str, str]]) -> None:
        super().__init__("; ".join(f"{f} {d}" for f, d, _ in violations))
        self.violations = violations


class InvalidCode(Exception):
    """A code Wix refuses: 428 INVALID_CODE."""


def bad(field: str, description: str, rule: str = "INVALID_FORMAT") -> WireError:
    return WireError([(field, description, rule)])


def parse(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY:
        raise bad("body", f"must be at most {MAX_BODY} bytes", "MAX_SIZE")
    if not body.strip():
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise bad("body", "must be a JSON object") from None
    if not isinstance(data, dict):
        raise bad("body", "must be a JSON object")
    return data


def obj(data: dict[str, Any], key: str, path: str, *, required: bool = False) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        if required:
            raise bad(path, "must not be empty", "REQUIRED_FIELD")
        return None
    if not isinstance(value, dict):
        raise bad(path, "must be an object")
    return value


def text(data: dict[str, Any], key: str, path: str, *, required: bool = False, max_len: int = 500) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise bad(path, "must not be empty", "REQUIRED_FIELD")
        return None
    if not isinstance(value, str) or "\x00" in value:
        raise bad(path, "must be a string")
    if len(value) > max_len:
        raise bad(path, f"must be at most {max_len} characters", "MAX_LENGTH")
    return value


def decimal(data: dict[str, Any], key: str, path: str) -> str:
    """A non-negative decimal string, like "50.00"; its places are checked against the currency
    by `money.to_minor` (the caller's)."""
    value = data.get(key)
    if value is None or value == "":
        raise bad(path, "must not be empty", "REQUIRED_FIELD")
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise bad(path, 'must be a decimal string of at most 2 places, like "50.00"', "DECIMAL_VALUE")
    return value


def when(value: Any, path: str) -> datetime | None:
    """An ISO-8601 date-time with an offset (`Z`); empty is None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
        except ValueError:
            at = None
        if at is not None and at.tzinfo is not None:
            try:
                return at.astimezone(UTC)
            except (OverflowError, ValueError):
                pass
    raise bad(path, "must be an ISO-8601 date-time with an offset, like 2027-12-31T23:59:59Z")


@dataclass(frozen=True, slots=True)
class NoticeIn:
    """`notificationInfo`, and the body of send-email: one shape."""

    recipient_email: str
    recipient_name: str | None
    sender_email: str | None
    sender_name: str | None
    message: str | None
    image_url: str | None
    at: datetime | None


def notice(data: dict[str, Any], path: str) -> NoticeIn:
    prefix = f"{path}." if path else ""
    recipient = obj(data, "recipientInfo", f"{prefix}recipientInfo", required=True) or {}
    sender = obj(data, "senderInfo", f"{prefix}senderInfo") or {}
    image = obj(data, "image", f"{prefix}image") or {}
    email = text(recipient, "email", f"{prefix}recipientInfo.email", required=True, max_len=320)
    assert email is not None  # required
    return NoticeIn(
        recipient_email=email,
        recipient_name=text(recipient, "name", f"{prefix}recipientInfo.name", max_len=200),
        sender_email=text(sender, "email", f"{prefix}senderInfo.email", max_len=320),
        sender_name=text(sender, "name", f"{prefix}senderInfo.name", max_len=200),
        message=text(data, "personalMessage", f"{prefix}personalMessage"),
        image_url=text(image, "url", f"{prefix}image.url", max_len=2000),
        at=when(data.get("notificationDate"), f"{prefix}notificationDate"),
    )


@dataclass(frozen=True, slots=True)
class CreateIn:
    amount: str
    currency: str
    source: CardSource
    code: str | None
    expires_at: datetime | None
    notice: NoticeIn | None
    idempotency_key: str | None


def create(data: dict[str, Any]) -> CreateIn:
    card = obj(data, "giftCard", "giftCard", required=True) or {}
    initial = obj(card, "initialValue", "giftCard.initialValue", required=True) or {}
    amount = decimal(initial, "amount", "giftCard.initialValue.amount")
    currency = text(card, "currency", "giftCard.currency", required=True, max_len=10)
    source = text(card, "source", "giftCard.source", required=True, max_len=20)
    if source not in SOURCES:
        raise bad("giftCard.source", "must be ORDER or MANUAL", "INVALID_ENUM_VALUE")
    code = card.get("code")
    if code is not None and (not isinstance(code, str) or not _CODE.match(code)):
        raise InvalidCode("Gift Card Code can only contain letters(A-z) and numbers(0-9), 8 to 20 of them")
    info = obj(card, "notificationInfo", "giftCard.notificationInfo")
    key = data.get("idempotencyKey", card.get("idempotencyKey"))
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 100 or not key.isprintable()):
        raise bad("idempotencyKey", "must be 1 to 100 printable characters", "MAX_LENGTH")
    assert currency is not None  # required
    return CreateIn(
        amount=amount,
        currency=currency,
        source=SOURCES[source],
        code=code,
        expires_at=when(card.get("expirationDate"), "giftCard.expirationDate"),
        notice=notice(info, "giftCard.notificationInfo") if info is not None else None,
        idempotency_key=key,
    )


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    cursor: str | None


def paging(data: dict[str, Any] | None, path: str) -> Paging:
    data = data or {}
    limit = data.get("limit", DEFAULT_LIMIT)
    if limit is None:
        limit = DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise bad(f"{path}.limit", "must be an integer from 1 to 100", "MAX")
    cursor = data.get("cursor")
    if cursor is not None and (not isinstance(cursor, str) or len(cursor) > 2000):
        raise bad(f"{path}.cursor", "must be a cursor from pagingMetadata")
    return Paging(limit, cursor or None)
