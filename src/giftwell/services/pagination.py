"""Keyset pagination, the one way every list pages: an opaque cursor holding the sort's name,
the last row's sort value and its id, and a query that continues strictly after that pair.

A cursor comes back from the client, so it is input like any other: whatever it decodes to is
checked against the sort it claims (its name, and the type of its value: a time with an offset,
or a 64-bit integer) before it reaches a query, and anything unexpected is `cursor is not
valid`, a 422 naming `cursor`, never a 500.
"""

from __future__ import annotations

import base64
import enum
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from giftwell.domain.errors import ValidationFailed
from giftwell.store.uow import UnitOfWork

T = TypeVar("T")
MAX_LIMIT = 100
_ROW_ID = re.compile(r"[A-Za-z0-9_]{1,64}")
_INT64 = 2**63


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    data: list[T]
    has_more: bool
    next_cursor: str | None


class Kind(enum.Enum):
    TIME = "time"
    INT = "int"
    STR = "str"


@dataclass(frozen=True, slots=True)
class Sort:
    """One sort order of a list: `name` as the API spells it (`-created_at` is newest first),
    the column it orders by, what kind of value that is, and the id column that breaks ties."""

    name: str
    column: Any
    kind: Kind
    tiebreak: Any
    # A column that may be NULL: its NULLs come last in ascending order and first in descending
    # order (PostgreSQL's own order, so a plain index serves both directions), on both databases.
    nullable: bool = False

    @property
    def descending(self) -> bool:
        return self.name.startswith("-")

    @property
    def key(self) -> str:
        """The result column holding the sort value (a column's name, or a label's)."""
        return str(self.column.key)


def newest_first(created: Any, row_id: Any, name: str = "-created_at") -> Sort:
    return Sort(name, created, Kind.TIME, row_id)


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", param="limit")
    return limit


async def paginate(
    uow: UnitOfWork,
    query: sa.Select[Any],
    *,
    sort: Sort,
    limit: int,
    cursor: str | None,
    convert: Callable[[Any], T],
) -> Page[T]:
    """Run `query` for one page: after the cursor's row in `sort` order, `limit` rows, each
    converted with `convert`, and the cursor of the next page when there is one."""
    check_limit(limit)
    col, tie = sort.column, sort.tiebreak
    if cursor:
        value, last_id = _decode(cursor, sort)
        query = query.where(_after(sort, value, last_id))
    if sort.nullable:
        order = (col.desc().nulls_first(), tie.desc()) if sort.descending else (col.asc().nulls_last(), tie.asc())
    else:
        order = (col.desc(), tie.desc()) if sort.descending else (col.asc(), tie.asc())
    rows = (await uow.conn.execute(query.order_by(*order).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = None
    if more and rows:
        last = rows[-1]
        nxt = _encode(sort, getattr(last, sort.key), getattr(last, str(tie.key)))
    return Page([convert(r) for r in rows], more, nxt)


def _after(sort: Sort, value: Any, last_id: str) -> Any:
    """The rows strictly after (`value`, `last_id`) in `sort` order (NULLs as the largest value)."""
    col, tie = sort.column, sort.tiebreak
    if value is None:
        tail = sa.and_(col.is_(None), tie < last_id if sort.descending else tie > last_id)
        return sa.or_(tail, col.is_not(None)) if sort.descending else tail
    if sort.descending:
        return sa.or_(col < value, sa.and_(col == value, tie < last_id))
    after = sa.or_(col > value, sa.and_(col == value, tie > last_id))
    return sa.or_(after, col.is_(None)) if sort.nullable else after


def _encode(sort: Sort, value: Any, row_id: str) -> str:
    if sort.kind is Kind.TIME and value is not None:
        value = value.isoformat()
    raw = json.dumps([sort.name, value, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: Sort) -> tuple[datetime | int | str | None, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        got_sort, value, row_id = json.loads(raw)
    except (ValueError, TypeError):
        raise _invalid() from None
    if got_sort != sort.name:
        raise ValidationFailed("cursor was made for another sort order", param="cursor")
    if not isinstance(row_id, str) or not _ROW_ID.fullmatch(row_id):
        raise _invalid()
    if value is None and sort.nullable:
        return None, row_id
    if sort.kind is Kind.STR:
        return _str(value), row_id
    return (_time(value) if sort.kind is Kind.TIME else _int(value)), row_id


def _str(value: Any) -> str:
    if isinstance(value, str) and len(value) <= 1000 and "\x00" not in value:
        return value
    raise _invalid()


def _time(value: Any) -> datetime:
    """An ISO-8601 string with an offset, representable in UTC."""
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
            if at.tzinfo is not None:
                return at.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    raise _invalid()


def _int(value: Any) -> int:
    """An integer within the 64-bit columns."""
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64:
        return value
    raise _invalid()


def _invalid() -> ValidationFailed:
    return ValidationFailed("cursor is not valid", param="cursor")
