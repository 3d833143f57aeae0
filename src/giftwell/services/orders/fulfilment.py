"""Fulfilment: turn an order's pending units into cards, batch by batch, and end the order.

Safe to run twice or concurrently, and after a crash at any point:
- a batch is one transaction: it locks some pending units (`FOR UPDATE SKIP LOCKED` on
  PostgreSQL; SQLite has one writer), issues their cards through the supplier (keyed by the
  unit's `supply_key`), marks each unit with a guarded update (`status = 'pending'`), and
  captures the batch's total price from the order's hold. A crash rolls all of that back; a
  second worker skips the locked units, and a unit already issued is no longer pending.
- `finish` ends the order once no unit is pending, with a guarded update on the order's status
  (only one caller wins), and releases what is left of the hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from giftwell.domain import codes
from giftwell.domain.cards import Party
from giftwell.domain.catalog import Product, add_months
from giftwell.domain.errors import InvalidState, NotFound
from giftwell.domain.funding import ReceiptKind
from giftwell.domain.ledger import TransferStatus
from giftwell.domain.orders import OrderStatus, UnitStatus, final_status
from giftwell.services import events
from giftwell.services.catalog import products, suppliers
from giftwell.services.catalog.suppliers import AWAITING, SupplyFailed, SupplyRequest
from giftwell.services.delivery import choice, choice_sending, deliveries
from giftwell.services.ledger import settle, transfers
from giftwell.services.orders import billing, house_batch
from giftwell.services.runtime import Runtime
from giftwell.store.models import Order, OrderCard, OrderItem
from giftwell.store.uow import UnitOfWork

OPEN = (OrderStatus.PENDING.value, OrderStatus.PROCESSING.value)
# The largest batch of cards in one transaction (see `fulfil`).
MAX_BATCH = 1000


async def fulfil(rt: Runtime, order_id: str, *, batch_size: int = 100, max_batch: int | None = None) -> OrderStatus:
    """Issue the order's pending cards in batches (one transaction each) and end the order. The
    first batch is `batch_size` cards, so the first cards are out soon; with `max_batch` (the
    `order.fulfil` job passes `MAX_BATCH`) each next one is twice the last, up to `max_batch`,
    since a batch's fixed cost (the order, the hold, the charge, the commit) is then spread over
    more cards; without, every batch is `batch_size`. Idempotent and safe to run concurrently: returns the
    order's status when this call stops (a final one, or `processing` when another worker holds
    the remaining units)."""
    size = batch_size
    while True:
        async with rt.uow() as uow:
            done = await run_batch(uow, order_id, limit=size)
            ended = await finish(uow, order_id) if done < size else None
            status = await _status(uow, order_id)
            await uow.commit()
        if ended is not None or done == 0 or not status.open:
            return status
        size = max(batch_size, min(size * 2, max_batch or batch_size))


async def units_pending(rt: Runtime, order_id: str) -> bool:
    """Whether some of the order's units are still `pending` (held by another worker's batch);
    `ordered` ones are not: the upstream purchase job settles those."""
    async with rt.reader() as uow:
        q = sa.select(OrderCard.id).where(OrderCard.order_id == order_id, OrderCard.status == UnitStatus.PENDING.value)
        return (await uow.conn.execute(q.limit(1))).first() is not None


async def _status(uow: UnitOfWork, order_id: str) -> OrderStatus:
    row = (await uow.conn.execute(sa.select(Order.status).where(Order.id == order_id))).first()
    if row is None:
        raise NotFound("no such order", param="order")
    return OrderStatus(row.status)


@dataclass(frozen=True, slots=True)
class _Unit:
    id: str
    item_id: str
    supply_key: str
    issuer_account_id: str
    price: int
    index: int
    position: int
    card_id: str | None


async def run_batch(uow: UnitOfWork, order_id: str, *, limit: int) -> int:
    """Issue up to `limit` pending units of an open order in the caller's transaction; returns
    how many units it settled (issued or failed)."""
    order = (await uow.conn.execute(sa.select(Order).where(Order.id == order_id))).first()
    if order is None or order.status not in OPEN:
        return 0
    q = (
        sa.select(
            OrderCard.id,
            OrderCard.item_id,
            OrderCard.supply_key,
            OrderCard.issuer_account_id,
            OrderCard.price,
            OrderCard.position,
            OrderCard.card_id,
        )
        .where(OrderCard.order_id == order_id, OrderCard.status == UnitStatus.PENDING.value)
        .order_by(OrderCard.position)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    units = [
        _Unit(
            r.id,
            r.item_id,
            r.supply_key,
            r.issuer_account_id,
            int(r.price),
            int(r.supply_key.rsplit(":", 1)[1]),
            int(r.position),
            r.card_id,
        )
        for r in (await uow.conn.execute(q)).all()
    ]
    if not units:
        return 0
    # The order row next (lock order: units, order, then the hold and the funding account).
    await uow.conn.execute(
        sa.update(Order)
        .where(Order.id == order_id, Order.status.in_(OPEN))
        .values(status=OrderStatus.PROCESSING.value, updated_at=uow.now)
    )
    if not order.test and order.hold_transfer_id and not await _hold_open(uow, order):
        # The reservation expired or was voided: issuing now would hand out unpaid cards.
        for u in units:
            await _settle(uow, u.id, UnitStatus.FAILED, error="funds reservation expired")
        return len(units)
    items = await _items(uow, {u.item_id for u in units})
    # The house supplier's cards all at once (a unit with a card already goes the long way,
    # which returns that card).
    together = [
        house_batch.HouseUnit(u.id, u.issuer_account_id, item, product)
        for u in units
        for item, product in [items[u.item_id]]
        if u.card_id is None and product is not None and house_batch.batchable(item, product)
    ]
    if together:
        await house_batch.issue(uow, order=order, units=together)
    done = {h.id for h in together}
    issued: list[_Unit] = []
    for u in units:
        if u.id in done:
            issued.append(u)
            continue
        item, product = items[u.item_id]
        if product is None:
            # A choice item: the unit is a reward link holding its value, not a card.
            await choice.issue(uow, order=order, unit_id=u.id, item=item, position=u.position)
            await _settle(uow, u.id, UnitStatus.ISSUED)
            await choice_sending.for_order_link(uow, order=order, unit_id=u.id, item=item)
            issued.append(u)
            continue
        try:
            supplied = await suppliers.get(product.supplier).issue(uow, _request(uow, u, item, product, order))
        except SupplyFailed as exc:
            await _settle(uow, u.id, UnitStatus.FAILED, error=str(exc)[:500] or "supplier refused")
            continue
        if supplied is AWAITING:
            # Bought in the background (`orders.upstream`), settled by `settle_awaited`.
            await _settle(uow, u.id, UnitStatus.ORDERED)
            continue
        await _settle(uow, u.id, UnitStatus.ISSUED, card_id=supplied.card_id)
        # Its reward link, and its delivery when the item asked for one, in this same batch: a
        # card that commits is always sent; a batch rolled back sends nothing.
        await deliveries.for_order_card(uow, order=order, unit_id=u.id, card_id=supplied.card_id, item=item)
        issued.append(u)
    await _charge(uow, order, [(u.id, u.item_id, u.price) for u in issued])
    return len(units)


async def _charge(uow: UnitOfWork, order: Any, issued: list[tuple[str, str, int]]) -> None:
    """Capture the price of the units just issued (unit id, item id, price) from the order's
    hold, with its receipt, in the transaction that issued them."""
    charge = 0 if order.test else sum(price for _, _, price in issued)
    if charge <= 0:
        return
    p = await settle.capture_part(
        uow, account_id=order.account_id, transfer_id=order.hold_transfer_id, amount=charge, reference=order.id
    )
    await uow.conn.execute(
        sa.update(OrderCard).where(OrderCard.id.in_([i for i, _, _ in issued])).values(charge_transfer_id=p.transfer.id)
    )
    await uow.conn.execute(sa.update(Order).where(Order.id == order.id).values(charged=Order.charged + charge))
    await billing.receipt(uow, order, ReceiptKind.CHARGE, p.transfer, [(item, price) for _, item, price in issued])


async def settle_awaited(uow: UnitOfWork, order_id: str, outcomes: dict[str, str | None]) -> OrderStatus | None:
    """Settle `ordered` units an upstream supplier has answered for, in the caller's transaction:
    `unit id -> None` for a card it made (issued, its price captured from the hold), `-> reason`
    for one it did not (failed, its price released when the order ends); then end the order if
    nothing waits any more. The caller has recorded the cards made (`supplied_cards`) in the same
    transaction. A unit no longer `ordered` (settled by a concurrent call) makes this raise, so
    that transaction rolls back whole."""
    order = (await uow.conn.execute(sa.select(Order).where(Order.id == order_id))).first()
    if order is None:
        raise NotFound("no such order", param="order")
    made = [unit for unit, reason in outcomes.items() if reason is None]
    if made and not order.test and order.hold_transfer_id and not await _hold_open(uow, order):
        # The reservation is gone: the cards cannot be charged, so they are not handed out.
        outcomes = {unit: reason or "funds reservation expired" for unit, reason in outcomes.items()}
        made = []
    for unit, reason in outcomes.items():
        status = UnitStatus.FAILED if reason is not None else UnitStatus.ISSUED
        await _settle(uow, unit, status, error=reason, expect=UnitStatus.ORDERED)
    q = sa.select(OrderCard.id, OrderCard.item_id, OrderCard.price).where(OrderCard.id.in_(made))
    await _charge(uow, order, [(r.id, r.item_id, int(r.price)) for r in (await uow.conn.execute(q)).all()])
    return await finish(uow, order_id)


async def _hold_open(uow: UnitOfWork, order: Any) -> bool:
    t = await transfers.get(uow, account_id=order.account_id, transfer_id=order.hold_transfer_id)
    return t.status is TransferStatus.PENDING and (t.expires_at is None or t.expires_at > uow.now)


async def _items(uow: UnitOfWork, item_ids: set[str]) -> dict[str, tuple[Any, Product | None]]:
    rows = (await uow.conn.execute(sa.select(OrderItem).where(OrderItem.id.in_(item_ids)))).all()
    found: dict[str, Product] = {}
    out: dict[str, tuple[Any, Product | None]] = {}
    for r in rows:
        if r.product_id is None:
            out[r.id] = (r, None)
            continue
        if r.product_id not in found:
            found[r.product_id] = await products.get(uow, r.product_id)
        out[r.id] = (r, found[r.product_id])
    return out


def _request(uow: UnitOfWork, u: _Unit, item: Any, product: Product, order: Any) -> SupplyRequest:
    fmt = codes.CodeFormat(**product.code_format) if product.code_format else codes.DEFAULT_FORMAT
    expires = add_months(uow.now, product.expiry_months) if product.expiry_months else None
    return SupplyRequest(
        key=u.supply_key,
        order_id=order.id,
        item_id=u.item_id,
        product_id=product.id,
        issuer_account_id=u.issuer_account_id,
        currency=product.currency,
        amount=int(item.amount),
        index=u.index,
        test=bool(order.test),
        code_format=fmt,
        expires_at=expires,
        sender=Party(item.sender.get("name"), item.sender.get("email")),
        recipient=Party(item.recipient.get("name"), item.recipient.get("email")),
        metadata={"order": order.id, "order_card": u.id, "product": product.id},
        expiry_policy=product.expiry_policy,
    )


async def _settle(
    uow: UnitOfWork,
    unit_id: str,
    status: UnitStatus,
    *,
    card_id: str | None = None,
    error: str | None = None,
    expect: UnitStatus = UnitStatus.PENDING,
) -> None:
    res = await uow.conn.execute(
        sa.update(OrderCard)
        .where(OrderCard.id == unit_id, OrderCard.status == expect.value)
        .values(status=status.value, card_id=card_id, error=error, updated_at=uow.now)
        .returning(OrderCard.id)
    )
    if res.first() is None:
        # Locked by us, so only a bug gets here; raising rolls the whole batch back.
        raise InvalidState("order card was settled concurrently", param="order")


async def finish(uow: UnitOfWork, order_id: str) -> OrderStatus | None:
    """End the order once no unit is pending: completed, partial, failed (or cancelled), and
    release the rest of the hold. None while units are pending or when someone else ended it."""
    counts = dict(
        (
            await uow.conn.execute(
                sa.select(OrderCard.status, sa.func.count())
                .where(OrderCard.order_id == order_id)
                .group_by(OrderCard.status)
            )
        ).all()
    )
    if counts.get(UnitStatus.PENDING.value, 0) or counts.get(UnitStatus.ORDERED.value, 0):
        return None
    status = final_status(
        issued=counts.get(UnitStatus.ISSUED.value, 0),
        failed=counts.get(UnitStatus.FAILED.value, 0),
        cancelled=counts.get(UnitStatus.CANCELLED.value, 0),
    )
    won = await uow.conn.execute(
        sa.update(Order)
        .where(Order.id == order_id, Order.status.in_(OPEN))
        .values(status=status.value, completed_at=uow.now, updated_at=uow.now)
        .returning(Order.account_id, Order.hold_transfer_id, Order.charged, Order.reference)
    )
    row = won.first()
    if row is None:
        return None
    if row.hold_transfer_id is not None:
        hold = await transfers.get(uow, account_id=row.account_id, transfer_id=row.hold_transfer_id)
        if hold.status is TransferStatus.PENDING:
            await settle.void(uow, account_id=row.account_id, transfer_id=hold.id, reason=f"order {status.value}")
    await events.record(
        uow,
        account_id=row.account_id,
        type=f"order.{status.value}",
        subject_id=order_id,
        data={
            "order": order_id,
            "reference": row.reference,
            "status": status.value,
            "charged": int(row.charged),
            "issued": counts.get(UnitStatus.ISSUED.value, 0),
            "failed": counts.get(UnitStatus.FAILED.value, 0),
        },
    )
    return status
