"""`/v1/cards/query` and `/v1/cards/count`: the card query language (docs/api.md, Card query)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from giftwell.api.v1.schemas.card_query import CardCountIn, CardQueryIn, CountOut
from giftwell.api.v1.schemas.cards import CardOut
from giftwell.api.v1.schemas.common import Page
from giftwell.http.deps import CardsRead, ClientIp, RuntimeDep
from giftwell.http.tx import json_response
from giftwell.services.cards import query as card_query

router = APIRouter(prefix="/v1/cards", tags=["cards"])

_QUERY = (
    "Filter on id, code (the full code, matched by its keyed hash), code_suffix, status, currency, "
    "balance, initial_amount, created_at, updated_at, expires_at, disabled_at, source, sender and "
    "recipient email and name (the card's own and every delivery's) and metadata.<key>, with eq, ne, "
    "in, exists, gt, gte, lt, lte and startsWith, and text search (`text`: every word in the names, "
    "emails, code suffix and metadata values), combined with and, or and not; sort on any field but "
    "code and text, the id breaking ties; cursor paging. A filter no index answers (only `ne` or "
    "`not`) is refused with 400 `query_not_indexed`. A filter naming full codes is a code lookup: one that "
    "finds nothing counts as a failed lookup, and past the limit answers 429 `too_many_attempts`."
)


@router.post("/query", response_model=Page[CardOut], summary="Query cards", description=_QUERY)
async def query_cards(body: CardQueryIn, p: CardsRead, rt: RuntimeDep, ip: ClientIp) -> Response:
    query = card_query.prepare(body.filter, body.sort)
    caller = card_query.Caller(p.token_id, ip)
    page = await card_query.find(
        rt, account_id=p.account_id, query=query, limit=body.limit, cursor=body.cursor, caller=caller
    )
    return json_response(Page.of(page, CardOut.of))


@router.post(
    "/count", response_model=CountOut, summary="Count cards", description="The cards a `/query` filter matches."
)
async def count_cards(body: CardCountIn, p: CardsRead, rt: RuntimeDep, ip: ClientIp) -> Response:
    query = card_query.prepare(body.filter)
    found = await card_query.count(rt, account_id=p.account_id, query=query, caller=card_query.Caller(p.token_id, ip))
    return json_response(CountOut(count=found))
