"""Orders named by the client's own reference, as the vendor APIs that key an order by the
client's number use them (Wpay's `clientOrderNumber`): submit with a safe retry, show, reverse.

Each is a procedure: it owns its transaction. A submit of a reference already taken is a replay
when the request's fingerprint is the one stored with the order (the original order is shown
again, nothing placed twice), and a duplicate otherwise (`Conflict`, `rule="duplicate_reference"`).
Two submits racing with one reference: the unique key lets one commit, and the other, refused by
it, looks again and answers as a retry would. So a client may always retry a submit whose answer
it did not get. Codes are shown only for cards the client delivers itself: a card Giftwell sends
by email or SMS is shown without code, PIN or link (`views.reveal_order(withhold_delivered=True)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from giftwell.domain.errors import Conflict, InvalidState, NotFound
from giftwell.domain.orders import OrderStatus, reversible
from giftwell.services.orders import cancelling, placing
from giftwell.services.orders import views as order_views
from giftwell.services.orders.placing import OrderRequest
from giftwell.services.orders.views import OrderView
from giftwell.services.runtime import Runtime
from giftwell.store.models import Order, OrderCard
from giftwell.store.uow import UnitOfWork

DUPLICATE_REFERENCE = "duplicate_reference"


@dataclass(frozen=True, slots=True)
class Submitted:
    order: OrderView
    replayed: bool  # the reference was submitted before with the same request


@dataclass(frozen=True, slots=True)
class Reversed:
    order: OrderView
    cancelled: int  # cards cancelled by this call (0 when it had been reversed already)
    already: bool


async def _find(uow: UnitOfWork, account_id: str, reference: str, *, lock: bool = False) -> Any:
    q = sa.select(Order).where(Order.account_id == account_id, Order.reference == reference.strip())
    return (await uow.conn.execute(q.with_for_update() if lock else q)).first()


async def _show(uow: UnitOfWork, account_id: str, order_id: str) -> OrderView:
    return await order_views.reveal_order(uow, account_id=account_id, order_id=order_id, withhold_delivered=True)


async def _submit_once(
    rt: Runtime, account_id: str, req: OrderRequest, show_codes: bool, any_body: bool = False
) -> Submitted:
    async def shown(uow: UnitOfWork, order_id: str) -> OrderView:
        if not show_codes:
            return await order_views.summary(uow, account_id=account_id, order_id=order_id)
        return await _show(uow, account_id, order_id)

    async with rt.uow() as uow:
        row = await _find(uow, account_id, req.reference)
        if row is not None:
            if not any_body and (req.fingerprint is None or row.request_fingerprint != req.fingerprint):
                raise Conflict(
                    "an order with this reference exists, placed with another request",
                    param="reference",
                    rule=DUPLICATE_REFERENCE,
                )
            done = Submitted(await shown(uow, row.id), replayed=True)
        else:
            order_id = await placing.place(uow, account_id=account_id, req=req)
            done = Submitted(await shown(uow, order_id), replayed=False)
        await uow.commit()
    return done


async def submit(
    rt: Runtime, *, account_id: str, req: OrderRequest, show_codes: bool = True, any_body: bool = False
) -> Submitted:
    """Place `req` under its reference, or show the order placed before with the same request
    (see the module docstring). Raises what `placing.place` raises. `show_codes=False`: answer
    the order without its items (an answer that shows no code records no showing).
    `any_body`: a reference taken is a replay whatever the request (WeGift's idempotency key)."""
    try:
        return await _submit_once(rt, account_id, req, show_codes, any_body)
    except Conflict as exc:
        if exc.fields.get("rule") == DUPLICATE_REFERENCE:
            raise
        # A concurrent submit of this reference committed first: now it is there to compare with.
        return await _submit_once(rt, account_id, req, show_codes, any_body)


async def show(rt: Runtime, *, account_id: str, reference: str) -> OrderView:
    """The account's order with this reference (`NotFound` naming `reference`), its codes shown
    for the cards the client delivers (each showing recorded)."""
    async with rt.uow() as uow:
        row = await _find(uow, account_id, reference)
        if row is None:
            raise NotFound("no order with this reference", param="reference")
        view = await _show(uow, account_id, row.id)
        await uow.commit()
    return view


async def reverse(rt: Runtime, *, account_id: str, reference: str) -> Reversed:
    """Reverse the order with this reference: within `REVERSAL_WINDOW` of its placing, every card
    is cancelled and its price refunded (`cancelling.cancel`), all or nothing. Refused with
    `InvalidState`: past the window (`rule="reversal_window"`), or when any card has been used
    (`rule="card_used"`, naming it). An order reversed (cancelled) already is shown again."""
    async with rt.uow() as uow:
        row = await _find(uow, account_id, reference, lock=True)
        if row is None:
            raise NotFound("no order with this reference", param="reference")
        if row.status == OrderStatus.CANCELLED.value:
            return Reversed(await _show(uow, account_id, row.id), 0, already=True)
        if not reversible(row.created_at, uow.now):
            raise InvalidState(
                "an order can be reversed only within 24 hours of its placing",
                param="reference",
                rule="reversal_window",
            )
        units = list((await uow.conn.execute(sa.select(OrderCard.id).where(OrderCard.order_id == row.id))).scalars())
        try:
            n = await cancelling.cancel(uow, account_id=account_id, order_id=row.id, unit_ids=units)
        except InvalidState as exc:
            if exc.param != "cards":
                raise
            raise InvalidState(
                "a card of this order has been used: the order cannot be reversed",
                param="cards",
                rule="card_used",
                card=exc.fields.get("card"),
            ) from None
        done = Reversed(await _show(uow, account_id, row.id), n, already=False)
        await uow.commit()
    return done
