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
from giftwell.domain.cards import CardStatus, Party
from giftwell.domain.catalog import Product, add_months
from giftwell.domain.errors import InvalidState, NotFound, ValidationFailed
from giftwell.domain.ledger import AccountKind, TransferKind, TransferStatus, card_posting
from giftwell.domain.orders import OrderStatus, UnitStatus, final_status
from giftwell.services import catalog, delivery, events, ledger, suppliers
from giftwell.services.ledger import Leg
from giftwell.services.runtime import Runtime
from giftwell.services.suppliers import SupplyFailed, SupplyRequest
from giftwell.store.models import Card, Order, OrderCard, OrderItem
from giftwell.store.models import LedgerAccount as LA
from giftwell.store.uow import UnitOfWork

OPEN = (OrderStatus.PENDING.value, OrderStatus.PROCESSING.value)


async def fulfil(rt: Runtime, order_id: str, *, batch_size: int = 100) -> OrderStatus:
    """Issue the order's pending cards in batches of `batch_size` (one transaction each) and end
    the order. Idempotent and safe to run concurrently: returns the order's status when this call
    stops (a final one, or `processing` when another worker holds the remaining units)."""
    while True:
        async with rt.uow() as uow:
            done = await run_batch(uow, order_id, limit=batch_size)
            ended = await finish(uow, order_id) if done < batch_size else None
            status = await _status(uow, order_id)
            await uow.commit()
        if ended is not None or done == 0 or not status.open:
            return status


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


async def run_batch(uow: UnitOfWork, order_id: str, *, limit: int) -> int:
    """Issue up to `limit` pending units of an open order in the caller's transaction; returns
    how many units it settled (issued or failed)."""
    order = (await uow.conn.execute(sa.select(Order).where(Order.id == order_id))).first()
    if order is None or order.status not in OPEN:
        return 0
    q = (
        sa.select(OrderCard.id, OrderCard.item_id, OrderCard.supply_key, OrderCard.issuer_account_id, OrderCard.price)
        .where(OrderCard.order_id == order_id, OrderCard.status == UnitStatus.PENDING.value)
        .order_by(OrderCard.position)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    units = [
        _Unit(r.id, r.item_id, r.supply_key, r.issuer_account_id, int(r.price), int(r.supply_key.rsplit(":", 1)[1]))
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
    issued: list[tuple[_Unit, str]] = []
    for u in units:
        item, product = items[u.item_id]
        try:
            supplied = await suppliers.get(uow.rt, product.supplier).issue(uow, _request(uow, u, item, product, order))
        except SupplyFailed as exc:
            await _settle(uow, u.id, UnitStatus.FAILED, error=str(exc)[:500] or "supplier refused")
            continue
        await _settle(uow, u.id, UnitStatus.ISSUED, card_id=supplied.card_id)
        # Its reward link, and its delivery when the item asked for one, in this same batch: a
        # card that commits is always sent; a batch rolled back sends nothing.
        await delivery.for_order_card(uow, order=order, unit_id=u.id, card_id=supplied.card_id, item=item)
        issued.append((u, supplied.card_id))
    charge = 0 if order.test else sum(u.price for u, _ in issued)
    if charge > 0:
        p = await ledger.capture_part(
            uow, account_id=order.account_id, transfer_id=order.hold_transfer_id, amount=charge, reference=order_id
        )
        await uow.conn.execute(
            sa.update(OrderCard)
            .where(OrderCard.id.in_([u.id for u, _ in issued]))
            .values(charge_transfer_id=p.transfer.id)
        )
        await uow.conn.execute(sa.update(Order).where(Order.id == order_id).values(charged=Order.charged + charge))
    return len(units)


async def _hold_open(uow: UnitOfWork, order: Any) -> bool:
    t = await ledger.get(uow, account_id=order.account_id, transfer_id=order.hold_transfer_id)
    return t.status is TransferStatus.PENDING and (t.expires_at is None or t.expires_at > uow.now)


async def _items(uow: UnitOfWork, item_ids: set[str]) -> dict[str, tuple[Any, Product]]:
    rows = (await uow.conn.execute(sa.select(OrderItem).where(OrderItem.id.in_(item_ids)))).all()
    products: dict[str, Product] = {}
    out: dict[str, tuple[Any, Product]] = {}
    for r in rows:
        if r.product_id not in products:
            products[r.product_id] = await catalog.get(uow, r.product_id)
        out[r.id] = (r, products[r.product_id])
    return out


def _request(uow: UnitOfWork, u: _Unit, item: Any, product: Product, order: Any) -> SupplyRequest:
    fmt = codes.CodeFormat(**product.code_format) if product.code_format else codes.DEFAULT_FORMAT
    expires = add_months(uow.now, product.expiry_months) if product.expiry_months else None
    return SupplyRequest(
        key=u.supply_key,
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
    )


async def _settle(
    uow: UnitOfWork, unit_id: str, status: UnitStatus, *, card_id: str | None = None, error: str | None = None
) -> None:
    res = await uow.conn.execute(
        sa.update(OrderCard)
        .where(OrderCard.id == unit_id, OrderCard.status == UnitStatus.PENDING.value)
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
    if counts.get(UnitStatus.PENDING.value, 0):
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
        hold = await ledger.get(uow, account_id=row.account_id, transfer_id=row.hold_transfer_id)
        if hold.status is TransferStatus.PENDING:
            await ledger.void(uow, account_id=row.account_id, transfer_id=hold.id, reason=f"order {status.value}")
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


async def cancel(uow: UnitOfWork, *, account_id: str, order_id: str, unit_ids: list[str] | None = None) -> int:
    """Cancel an order's cards (all, or those listed): each issued card not yet redeemed is
    disabled, its value leaves it (an adjustment in the issuer's ledger), and its price goes back
    to the buyer's funding account (`refund` from sales); pending units are dropped. One
    transaction. Returns how many units were cancelled."""
    order = (
        await uow.conn.execute(sa.select(Order).where(Order.id == order_id, Order.account_id == account_id))
    ).first()
    if order is None:
        raise NotFound("no such order", param="order")
    q = sa.select(OrderCard).where(OrderCard.order_id == order_id).order_by(OrderCard.position)
    if unit_ids is not None:
        q = q.where(OrderCard.id.in_(unit_ids))
    units = (await uow.conn.execute(q.with_for_update())).all()
    if unit_ids is not None and len(units) != len(set(unit_ids)):
        raise NotFound("no such card in this order", param="cards")
    refund = 0
    n = 0
    for u in units:
        if u.status == UnitStatus.PENDING.value:
            n += await _drop(uow, u.id)
        elif u.status == UnitStatus.ISSUED.value:
            if unit_ids is not None and not await _unredeemed(uow, u.card_id):
                raise InvalidState("this card has been used and cannot be cancelled", param="cards", card=u.id)
            if await _disable(uow, u):
                n += 1
                refund += 0 if order.test else int(u.price)
    if refund:
        await _refund(uow, order, refund)
    if order.status in OPEN:
        await finish(uow, order_id)
    elif n:
        issued = await uow.conn.execute(
            sa.select(sa.func.count()).where(
                OrderCard.order_id == order_id, OrderCard.status == UnitStatus.ISSUED.value
            )
        )
        if not issued.scalar_one():
            await uow.conn.execute(
                sa.update(Order)
                .where(Order.id == order_id)
                .values(status=OrderStatus.CANCELLED.value, updated_at=uow.now)
            )
    await events.record(
        uow,
        account_id=account_id,
        type="order.cancelled",
        subject_id=order_id,
        data={"order": order_id, "cards": n, "refund": refund},
    )
    return n


async def _drop(uow: UnitOfWork, unit_id: str) -> int:
    res = await uow.conn.execute(
        sa.update(OrderCard)
        .where(OrderCard.id == unit_id, OrderCard.status == UnitStatus.PENDING.value)
        .values(status=UnitStatus.CANCELLED.value, updated_at=uow.now)
        .returning(OrderCard.id)
    )
    return 1 if res.first() else 0


def _untouched(card_id: str) -> sa.ColumnElement[bool]:
    # Never redeemed: the card still holds its whole first value and nothing is held on it.
    return sa.exists().where(
        LA.id == Card.ledger_account_id,
        Card.id == card_id,
        LA.balance == Card.initial_amount,
        LA.pending_out == 0,
    )


async def _unredeemed(uow: UnitOfWork, card_id: str) -> bool:
    row = await uow.conn.execute(sa.select(_untouched(card_id)))
    return bool(row.scalar_one())


async def _disable(uow: UnitOfWork, u: Any) -> bool:
    """Disable the unit's card if it was never used (compare-and-set on the card's status and
    balance in one statement), take its value out, and mark the unit cancelled."""
    usable = [CardStatus.ACTIVE.value, CardStatus.INACTIVE.value, CardStatus.BLOCKED.value]
    res = await uow.conn.execute(
        sa.update(Card)
        .where(Card.id == u.card_id, Card.status.in_(usable), _untouched(u.card_id))
        .values(status=CardStatus.DISABLED.value, status_reason="order cancelled", updated_at=uow.now)
        .returning(Card.ledger_account_id, Card.currency, Card.initial_amount)
    )
    card = res.first()
    if card is None:
        return False
    if int(card.initial_amount) > 0:
        rule = card_posting(TransferKind.ADJUST, signed_amount=-int(card.initial_amount))
        adj = await ledger.system_account(uow, account_id=u.issuer_account_id, kind=rule.system, currency=card.currency)
        await ledger.post(
            uow,
            account_id=u.issuer_account_id,
            kind=TransferKind.ADJUST,
            currency=card.currency,
            amount=int(card.initial_amount),
            debit=Leg(card.ledger_account_id, guarded=True),
            credit=Leg(adj, guarded=False),
            card_id=u.card_id,
            reason="order cancelled",
        )
    await events.record(
        uow,
        account_id=u.issuer_account_id,
        type="card.disabled",
        subject_id=u.card_id,
        data={"card": u.card_id, "status": CardStatus.DISABLED.value, "reason": "order cancelled"},
    )
    res = await uow.conn.execute(
        sa.update(OrderCard)
        .where(OrderCard.id == u.id, OrderCard.status == UnitStatus.ISSUED.value)
        .values(status=UnitStatus.CANCELLED.value, updated_at=uow.now)
        .returning(OrderCard.id)
    )
    if res.first() is None:  # pragma: no cover - the unit row is locked by this transaction
        raise InvalidState("order card changed concurrently", param="cards")
    return True


async def _refund(uow: UnitOfWork, order: Any, amount: int) -> None:
    from giftwell.services import access

    op = await access.operator_account(uow)
    sales = await ledger.system_account(uow, account_id=op.id, kind=AccountKind.SALES, currency=order.currency)
    res = await uow.conn.execute(
        sa.update(Order)
        .where(Order.id == order.id, Order.charged - Order.refunded >= amount)
        .values(refunded=Order.refunded + amount, updated_at=uow.now)
        .returning(Order.id)
    )
    if res.first() is None:
        raise ValidationFailed("refund exceeds what the order was charged", param="cards")
    await ledger.post(
        uow,
        account_id=order.account_id,
        kind=TransferKind.REFUND,
        currency=order.currency,
        amount=amount,
        debit=Leg(sales, guarded=False),
        credit=Leg(order.funding_account_id, guarded=True),
        reference=order.id,
        reason="order cancelled",
    )
