"""`/v1/funding-sources` and `/v1/receipts`: how the account pays, and a receipt for every
charge, refund, settlement and top-up (JSON, or a printable HTML page)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from giftwell.api.v1.schemas.common import Items, Page
from giftwell.api.v1.schemas.funding import FundingSourceOut, ReceiptOut
from giftwell.domain.funding import ReceiptKind
from giftwell.http.deps import AccountRead, RuntimeDep
from giftwell.http.tx import json_response
from giftwell.services.funding import receipts, sources

router = APIRouter(tags=["funding"])

# The printable page runs no script and loads nothing: its one stylesheet is inline.
_HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@router.get("/v1/funding-sources", response_model=Items[FundingSourceOut], summary="How the account pays")
async def list_funding_sources(p: AccountRead, rt: RuntimeDep) -> Response:
    """The prepaid balance of each currency the account was funded in, and any credit line the
    operator granted. An order names one as `funding_source`, or pays from the `default` one."""
    async with rt.reader() as uow:
        found = await sources.list_sources(uow, account_id=p.account_id)
    return json_response(Items.of(found, FundingSourceOut.of))


@router.get("/v1/receipts", response_model=Page[ReceiptOut], summary="List receipts, newest first")
async def list_receipts(
    p: AccountRead,
    rt: RuntimeDep,
    order: Annotated[str | None, Query(max_length=40)] = None,
    funding_source: Annotated[str | None, Query(max_length=40)] = None,
    kind: ReceiptKind | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Response:
    """One receipt per posted movement on a funding source: `charge` (cards issued, one per
    fulfilment batch), `refund` (cards cancelled), `settlement` (a credit line paid), `top_up`."""
    async with rt.reader() as uow:
        page = await receipts.list_receipts(
            uow,
            account_id=p.account_id,
            order_id=order,
            funding_source_id=funding_source,
            kind=kind,
            limit=limit,
            cursor=cursor,
        )
    return json_response(Page.of(page, ReceiptOut.of))


def _wants_html(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


@router.get(
    "/v1/receipts/{receipt_id}",
    response_model=ReceiptOut,
    summary="Get a receipt (JSON, or a printable HTML page)",
    responses={200: {"content": {"text/html": {}}}},
)
async def get_receipt(
    receipt_id: str,
    request: Request,
    p: AccountRead,
    rt: RuntimeDep,
    format: Annotated[str | None, Query(pattern="^(json|html)$")] = None,
) -> Response:
    """JSON by default; the printable page with `?format=html` or `Accept: text/html`."""
    async with rt.reader() as uow:
        found = await receipts.get(uow, account_id=p.account_id, receipt_id=receipt_id)
        if _wants_html(request, format):
            return HTMLResponse(await receipts.render_html(uow, found), headers=_HTML_HEADERS)
    return json_response(ReceiptOut.of(found))
