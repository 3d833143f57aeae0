"""`/v1/account`: the calling account, its funding balances and their statement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from giftwell.api.v1.schemas.account import AccountOut
from giftwell.api.v1.schemas.common import Page
from giftwell.api.v1.schemas.transfers import TransferOut
from giftwell.http.deps import AccountRead, RuntimeDep
from giftwell.http.tx import json_response
from giftwell.services.access import accounts
from giftwell.services.funding import balances

router = APIRouter(prefix="/v1/account", tags=["account"])


@router.get("", response_model=AccountOut, summary="The account and its prepaid balances")
async def get_account(p: AccountRead, rt: RuntimeDep) -> Response:
    async with rt.uow() as uow:
        acct = await accounts.get_account(uow, p.account_id)
        held = await balances.balances(uow, account_id=p.account_id)
    return json_response(AccountOut.of(acct, held))


@router.get("/statement", response_model=Page[TransferOut], summary="Transfers on the funding sources")
async def statement(
    p: AccountRead,
    rt: RuntimeDep,
    funding_source: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: str | None = None,
) -> Response:
    """Every transfer on the account's prepaid balances and credit lines (or on one
    `funding_source`), newest first: top-ups, order reservations (pending), charges, refunds,
    settlements and credit-limit changes. Each posted one but a limit change has a receipt."""
    async with rt.uow() as uow:
        page = await balances.statement(
            uow, account_id=p.account_id, funding_source_id=funding_source, limit=limit, cursor=cursor
        )
    return json_response(Page.of(page, TransferOut.of))
