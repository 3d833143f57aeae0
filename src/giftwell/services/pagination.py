"""Cursor pagination: an opaque cursor holding the last row's sort value and id.

A cursor comes back from the client, so it is input like any other: whatever it decodes to is
checked before it reaches a query, and anything unexpected is `cursor is not valid`.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from giftwell.domain.errors import ValidationFailed

T = TypeVar("T")
MAX_LIMIT = 100
_ROW_ID = re.compile(r"[A-Za-z0-9_]{1,64}")
_INT64 = 2**63


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    data: list[T]
    has_more: bool
    next_cursor: str | None


def encode_cursor(sort: str, value: Any, row_id: str) -> str:
    raw = json.dumps([sort, value, row_id], separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        got_sort, value, row_id = json.loads(raw)
    except (ValueError, TypeError):
        raise _invalid() from None
    if got_sort != sort:
        raise ValidationFailed("cursor was made for another sort order", param="cursor")
    if not isinstance(row_id, str) or not _ROW_ID.fullmatch(row_id):
        raise _invalid()
    return value, row_id


def cursor_time(value: Any) -> datetime:
    """A cursor's timestamp: an ISO-8601 string with an offset, representable in UTC."""
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
            if at.tzinfo is not None:
                return at.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    raise _invalid()


def cursor_int(value: Any) -> int:
    """A cursor's integer sort value (a balance), within the 64-bit columns."""
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64:
        return value
    raise _invalid()


def _invalid() -> ValidationFailed:
    return ValidationFailed("cursor is not valid", param="cursor")


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", param="limit")
    return limit
