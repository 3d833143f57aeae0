"""`/v1/orders`: place, read, list and cancel orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from giftwell.api.deps import TxDep
from giftwell.api.v1.schemas.choice import ChoiceLinkOut
from giftwell.api.v1.schemas.common import Page, UtcDatetime
from giftwell.api.v1.schemas.orders import CancelIn, CancelOut, OrderCardOut, OrderIn, OrderOut
from giftwell.domain.errors import ValidationFailed
from giftwell.domain.orders import OrderStatus
from giftwell.http.deps import OrdersRead, OrdersWrite, RuntimeDep
from giftwell.http.query import bracketed
from giftwell.http.tx import json_response
from giftwell.services.delivery import choice
from giftwell.services.orders import cancelling, order_cards, placing
from giftwell.services.orders import views as order_views
from giftwell.services.orders.views import OrderView
from giftwell.services.pagination import Page as Listed
from giftwell.store.uow import UnitOfWork

router = APIRouter(prefix="/v1/orders", tags=["orders"])


def _status(o: OrderView) -> int:
    # A finished order answers 200; one still being made in the background, 202.
    return 202 if o.status.open else 200


@router.post("", response_model=OrderOut, summary="Place an order", responses={202: {"model": OrderOut}})
async def place_order(body: OrderIn, p: OrdersWrite, tx: TxDep) -> Response:
    """Checks every item (422 `validation_error`, `param` naming the item and field), reserves the
    whole price from the funding balance (422 `insufficient_funds`, nothing else happens), then
    issues the cards: at once for up to 10 cards in `auto` mode (200, completed), else in the
    background (202, pending; the order is fulfilled by a job). At most 10,000 cards. `reference`
    is unique per account (409 `conflict`); `Idempotency-Key` replays the first answer."""
    req = body.domain()
    return await tx.run(
        p,
        lambda uow: placing.place_order(uow, account_id=p.account_id, req=req, reveal=False),
        OrderOut.of,
        status=_status,
    )


_METADATA_QUERY = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "style": "deepObject",
        "explode": True,
        "schema": {"type": "object", "additionalProperties": {"type": "string"}},
        "description": f"`{name}[key]=value`: keep orders {whose} metadata has the key with exactly this value.",
    }
    for name, whose in (("metadata", "whose"), ("item_metadata", "with an item whose"))
]


@router.get(
    "",
    response_model=Page[OrderOut],
    summary="List orders (without their cards), or find one by reference",
    openapi_extra={"parameters": _METADATA_QUERY},
)
async def list_orders(
    request: Request,
    p: OrdersRead,
    tx: TxDep,
    status: OrderStatus | None = None,
    reference: Annotated[str | None, Query(max_length=200)] = None,
    created_gte: UtcDatetime | None = None,
    created_lte: UtcDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Response:
    """Newest first, paginated, without items: get the order for them. `reference` finds the
    one order with your own id, and shows it as `GET /v1/orders/{id}` does, with its items and
    their counts. `metadata[key]=value`
    (repeat for several keys) keeps orders whose metadata has each key with exactly that value;
    `item_metadata[key]=value` does the same for an item's metadata."""
    metadata, item_metadata = bracketed(request, "metadata"), bracketed(request, "item_metadata")

    async def find(uow: UnitOfWork) -> Listed[OrderView]:
        page = await order_views.list_orders(
            uow,
            account_id=p.account_id,
            status=status,
            reference=reference,
            created_gte=created_gte,
            created_lte=created_lte,
            metadata=metadata,
            item_metadata=item_metadata,
            limit=limit,
            cursor=cursor,
        )
        if reference is None:
            return page
        return await order_views.with_items(uow, account_id=p.account_id, page=page)

    return await tx.run(p, find, lambda page: Page.of(page, OrderOut.of))


@router.get("/{order_id}", response_model=OrderOut, summary="Get an order, with its items' card counts")
async def get_order(order_id: str, p: OrdersRead, rt: RuntimeDep) -> Response:
    """The order and its items, each with how many of its cards are pending, issued, failed or
    cancelled; the cards themselves (codes, balances, links, deliveries) are
    `GET /v1/orders/{id}/cards`, a page at a time."""
    async with rt.reader() as uow:
        found = await order_views.get_order(uow, account_id=p.account_id, order_id=order_id)
    return json_response(OrderOut.of(found))


@router.get("/{order_id}/cards", response_model=Page[OrderCardOut], summary="List an order's cards, with codes")
async def list_order_cards(
    order_id: str,
    p: OrdersRead,
    tx: TxDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: str | None = None,
) -> Response:
    """The order's cards in the order's own order, a page at a time: status, code and PIN, initial
    and current balance, reward link, first and last opening of the link, and the latest
    delivery's status and attempts. Each showing of a code is recorded (per card: a reveal count
    and time; an `order.codes_revealed` event per page)."""
    # A read that writes: each showing of the codes is recorded, so it runs in a transaction.
    return await tx.run(
        p,
        lambda uow: order_cards.list_cards(uow, account_id=p.account_id, order_id=order_id, limit=limit, cursor=cursor),
        lambda page: Page.of(page, OrderCardOut.of),
    )


@router.get("/{order_id}/links", response_model=Page[ChoiceLinkOut], summary="List an order's choice reward links")
async def list_order_links(
    order_id: str,
    p: OrdersRead,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """The choice reward links of the order's choice items, in the order's own order, a page at a
    time: the link, its initial and unspent balance, its status and expiry, its first and last
    opening, and each pick (product, amount, card). Cards of product items are
    `GET /v1/orders/{id}/cards`."""
    after = _position_cursor(cursor)
    async with rt.reader() as uow:
        found = await choice.for_order(uow, account_id=p.account_id, order_id=order_id, limit=limit + 1, after=after)
    more = len(found) > limit
    shown = found[:limit]
    nxt = str(_position(shown[-1])) if more and shown else None
    return json_response(Page(data=[ChoiceLinkOut.of(v) for v in shown], has_more=more, next_cursor=nxt))


def _position_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 12:
        raise ValidationFailed("cursor is not one this list gave", param="cursor")
    return int(cursor)


def _position(v: choice.LinkView) -> int:
    return v.position


@router.post("/{order_id}/cancel", response_model=CancelOut, summary="Cancel an order, or some of its cards")
async def cancel_order(order_id: str, p: OrdersWrite, tx: TxDep, body: CancelIn | None = None) -> Response:
    """Cancel the whole order (no body) or the listed cards, in one transaction: each card never
    redeemed is disabled and its price returned to the funding balance; cards not yet issued are
    dropped. Naming a used card is 409 `invalid_state`; the whole order skips used cards."""

    return await tx.run(
        p,
        lambda uow: cancelling.cancel_and_show(
            uow, account_id=p.account_id, order_id=order_id, unit_ids=body.cards if body else None
        ),
        lambda done: CancelOut(cancelled=done.cancelled, order=OrderOut.of(done.order)),
    )
