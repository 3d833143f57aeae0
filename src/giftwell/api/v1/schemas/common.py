"""What every request and response shape of the native API shares: amounts, times, text, the
base of request bodies, metadata, and `Page`, the one shape of every list."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
)

from giftwell.domain.money import MAX_AMOUNT
from giftwell.services import pagination

_INT64 = 2**63
MAX_NESTING = 32
Str200 = Annotated[str, Field(max_length=200)]

T = TypeVar("T")
S = TypeVar("S")

Amount = Annotated[
    StrictInt, Field(le=MAX_AMOUNT, description="Integer amount in the currency's minor units (cents for EUR).")
]


def _utc(value: datetime) -> datetime:
    # Converted here, while it is still input: 9999-12-31T23:59:59-10:00 has no UTC form, and
    # would otherwise fail (500) when bound to a query.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("datetime is out of range once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]


def _storable(value: Any, depth: int = 0) -> None:
    """Refuse what one of our stores or the JSON encoder cannot hold: NUL in text (PostgreSQL
    text and JSONB reject it), non-finite numbers (not JSON), and numbers past 64 bits: JSONB
    keeps them (and gives 1e300 back as a 301-digit integer), but the response encoder cannot
    write such integers. Containers may nest `MAX_NESTING` levels deep."""
    if isinstance(value, dict | list) and depth > MAX_NESTING:
        raise ValueError(f"may nest at most {MAX_NESTING} levels deep")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
    elif isinstance(value, bool) or value is None or isinstance(value, BaseModel):
        return  # a nested model checked its own fields
    elif isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise ValueError("integers must fit in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value) or not -_INT64 <= value < _INT64:
            raise ValueError("numbers must be finite and fit in 64 bits")
    elif isinstance(value, dict):
        for k, v in value.items():
            _storable(k, depth + 1)
            _storable(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _storable(v, depth + 1)


def _text(value: str) -> str:
    _storable(value)
    return value


Text = Annotated[str, AfterValidator(_text)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _check_storable(cls, value: Any) -> Any:
        _storable(value)
        return value


class CodeFormatIn(In):
    kind: Literal["alphanumeric", "numeric"] = "alphanumeric"
    length: Annotated[int, Field(ge=8, le=64)] = 16
    luhn: StrictBool = False
    prefix: Annotated[str, Field(max_length=16)] = ""
    group: Annotated[int, Field(ge=0, le=8)] = 4


class Page(BaseModel, Generic[T]):
    """The shape of every paged list: one page of `data`, newest first unless a sort says
    otherwise, `has_more`, and the `next_cursor` to pass as `cursor` for the next page."""

    data: list[T]
    has_more: bool
    next_cursor: str | None

    @classmethod
    def of(cls, page: pagination.Page[S], render: Callable[[S], T]) -> Page[T]:
        return cls(data=[render(x) for x in page.data], has_more=page.has_more, next_cursor=page.next_cursor)


class Items(BaseModel, Generic[T]):
    """The shape of a list that is never long enough to page: `data` only."""

    data: list[T]

    @classmethod
    def of(cls, found: Iterable[S], render: Callable[[S], T]) -> Items[T]:
        return cls(data=[render(x) for x in found])


# orjson writes at most ~254 levels; far fewer is plenty for metadata and keeps the check cheap.
