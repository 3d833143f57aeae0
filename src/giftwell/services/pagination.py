"""Cursor pagination: an opaque cursor holding the last row's sort value and id."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from giftwell.domain.errors import ValidationFailed

T = TypeVar("T")
MAX_LIMIT = 100


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
        raise ValidationFailed("cursor is not valid", param="cursor") from None
    if got_sort != sort or not isinstance(row_id, str):
        raise ValidationFailed("cursor was made for another sort order", param="cursor")
    return value, row_id


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", param="limit")
    return limit
