"""`/v1/reports`: liability, breakage and cards expiring soon. Every route needs `reports:read`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from giftwell.api.v1.schemas.common import Text, UtcDatetime
from giftwell.api.v1.schemas.reports import BreakageOut, ExpiringOut, LiabilityOut
from giftwell.domain.reports import DEFAULT_DORMANT_DAYS, MAX_DAYS
from giftwell.http.deps import ReportsRead, RuntimeDep
from giftwell.http.exports import cards_csv
from giftwell.http.tx import json_response
from giftwell.services.reports import breakage, expiring, liability

router = APIRouter(prefix="/v1/reports", tags=["reports"])

Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description="The window: cards expiring within this many days.")]


@router.get(
    "/liability",
    response_model=LiabilityOut,
    summary="Liability per currency at an instant",
    description="The sum of the balances of your cards (test cards left out) at `as_of` (now when absent), "
    "from the ledger, in minor units; `cards` counts the cards holding value then.",
)
async def get_liability(p: ReportsRead, rt: RuntimeDep, as_of: UtcDatetime | None = None) -> Response:
    async with rt.reader() as uow:
        found = await liability.liability(uow, account_id=p.account_id, as_of=as_of)
    return json_response(LiabilityOut.of(found))


@router.get(
    "/breakage",
    response_model=BreakageOut,
    summary="Expired value per month, and an estimated breakage schedule",
    description="`expired`: value moved to breakage by expiry. The estimate follows ASC 606's proportional "
    "method: with the assumed breakage `rate` (a decimal fraction, 0 <= rate < 1), expected breakage "
    "(rate x issued) is recognised in proportion to redemptions. Value on cards with no movement for "
    "`dormant_after_days` is held apart (`dormant`) and never estimated as breakage.",
)
async def get_breakage(
    p: ReportsRead,
    rt: RuntimeDep,
    rate: Annotated[Text, Query(max_length=20, description="Assumed breakage rate, e.g. 0.1 for 10 %.")],
    as_of: UtcDatetime | None = None,
    dormant_after_days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = DEFAULT_DORMANT_DAYS,
) -> Response:
    async with rt.reader() as uow:
        found = await breakage.breakage(
            uow, account_id=p.account_id, rate=rate, as_of=as_of, dormant_after_days=dormant_after_days
        )
    return json_response(BreakageOut.of(found))


@router.get(
    "/expiring",
    response_model=ExpiringOut,
    summary="Cards holding value that expire in the next N days",
    description="Soonest first, paged like every list, with the totals per currency.",
)
async def get_expiring(
    p: ReportsRead,
    rt: RuntimeDep,
    days: Days = expiring.DEFAULT_DAYS,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Response:
    async with rt.reader() as uow:
        found = await expiring.expiring(uow, account_id=p.account_id, days=days, limit=limit, cursor=cursor)
    return json_response(ExpiringOut.of(found))


@router.get(
    "/expiring.csv",
    summary="The expiring-soon report as CSV",
    description="Every card of the report, never a code (only its last four characters).",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_expiring(p: ReportsRead, rt: RuntimeDep, days: Days = expiring.DEFAULT_DAYS) -> Response:
    return cards_csv(expiring.export_expiring(rt, account_id=p.account_id, days=days), f"expiring-{days}d.csv")
