"""Shapes of the card query (`POST /v1/cards/query`, `POST /v1/cards/count`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StrictInt

from giftwell.api.v1.schemas.common import In

_FILTER = (
    'The filter: `{"<field>": {"<op>": value}}`, with `and`/`or` (lists) and `not` (one filter); '
    "several keys in one object are ANDed. See docs/api.md, Card query."
)


class CardQueryIn(In):
    filter: dict[str, Any] | None = Field(default=None, description=_FILTER)
    sort: Annotated[str, Field(max_length=60)] = Field(
        default="-created_at", description="A field, with a leading `-` for descending order; the id breaks ties."
    )
    limit: Annotated[StrictInt, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=2000)] | None = None


class CardCountIn(In):
    filter: dict[str, Any] | None = Field(default=None, description=_FILTER)


class CountOut(BaseModel):
    count: int
