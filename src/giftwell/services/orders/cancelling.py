"""Cancelling an order's cards: each issued card not yet redeemed is disabled, its value leaves it,
and its price goes back to the buyer's funding account; pending units are dropped. One transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from giftwell.domain.cards import CardStatus
from giftwell.domain.errors import InvalidState, NotFound, ValidationFailed
from giftwell.domain.funding import ReceiptKind
from giftwell.domain.ledger import AccountKind, TransferKind, card_posting
from giftwell.domain.orders import OrderStatus, UnitStatus
from giftwell.services import events
from giftwell.services.delivery import choice
from giftwell.services.ledger import accounts as ledger_accounts
from giftwell.services.ledger import transfers
from giftwell.services.ledger.transfers import Leg
from giftwell.services.orders import billing
from giftwell.services.orders import views as order_views
from giftwell.services.orders.fulfilment import OPEN, finish
from giftwell.services.orders.views import OrderView
from giftwell.store.models import Card, LedgerAccount, Order, OrderCard
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Cancelled:
    cancelled: int
    order: OrderView


async def cancel_and_show(
    uow: UnitOfWork, *, account_id: str, order_id: str, unit_ids: list[str] | None = None
) -> Cancelled:
    """`cancel`, then the order as it stands after, with its items' counts (`views.get_order`)."""
    n = await cancel(uow, account_id=account_id, order_id=order_id, unit_ids=unit_ids)
    return Cancelled(n, await order_views.get_order(uow, account_id=account_id, order_id=order_id))


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
    refunded: list[tuple[str, int]] = []
    n = 0
    for u in units:
        if u.status == UnitStatus.ISSUED.value and u.card_id is None:
            done = await _link(uow, u, unit_ids)
            if done:
                n += 1
                refund += 0 if order.test else int(u.price)
                refunded.append((u.item_id, int(u.price)))
            if done is not None:
                continue
        if u.status == UnitStatus.ORDERED.value or (u.status == UnitStatus.ISSUED.value and u.card_id is None):
            # Bought from an upstream supplier (or being bought): the card lives in its ledger,
            # which only it can cancel. The whole order's cancel leaves these cards alone.
            if unit_ids is not None:
                raise InvalidState("a card bought from a supplier cannot be cancelled", param="cards", card=u.id)
            continue
        if u.status == UnitStatus.PENDING.value:
            n += await _drop(uow, u.id)
        elif u.status == UnitStatus.ISSUED.value:
            if unit_ids is not None and not await _unredeemed(uow, u.card_id):
                raise InvalidState("this card has been used and cannot be cancelled", param="cards", card=u.id)
            if await _disable(uow, u):
                n += 1
                refund += 0 if order.test else int(u.price)
                refunded.append((u.item_id, int(u.price)))
    if refund:
        await _refund(uow, order, refund, refunded)
    # The order's status as it is now, not as first read: the units' lock above may have waited
    # for a fulfilment batch that ended the order meanwhile (then finish would do nothing, and a
    # completed order whose every card was just cancelled would stay completed).
    status = await uow.conn.scalar(sa.select(Order.status).where(Order.id == order_id))
    if status in OPEN:
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


async def _link(uow: UnitOfWork, u: Any, unit_ids: list[str] | None) -> bool | None:
    """A choice unit: its link cancelled if never picked (True, the unit cancelled with it); a
    link picked from is left alone by the whole order's cancel (False) and refused when named.
    None: not a choice unit (an upstream supplier's card)."""
    done = await choice.cancel(uow, u.id)
    if done is False and unit_ids is not None:
        raise InvalidState("this reward link has been used and cannot be cancelled", param="cards", card=u.id)
    if done:
        await _mark_cancelled(uow, u.id)
    return done


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
        LedgerAccount.id == Card.ledger_account_id,
        Card.id == card_id,
        LedgerAccount.balance == Card.initial_amount,
        LedgerAccount.pending_out == 0,
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
        .values(
            status=CardStatus.DISABLED.value, status_reason="order cancelled", updated_at=uow.now, disabled_at=uow.now
        )
        .returning(Card.ledger_account_id, Card.currency, Card.initial_amount)
    )
    card = res.first()
    if card is None:
        return False
    if int(card.initial_amount) > 0:
        rule = card_posting(TransferKind.ADJUST, signed_amount=-int(card.initial_amount))
        adj = await ledger_accounts.system_account(
            uow, account_id=u.issuer_account_id, kind=rule.system, currency=card.currency
        )
        await transfers.post(
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
    await _mark_cancelled(uow, u.id)
    return True


async def _mark_cancelled(uow: UnitOfWork, unit_id: str) -> None:
    res = await uow.conn.execute(
        sa.update(OrderCard)
        .where(OrderCard.id == unit_id, OrderCard.status == UnitStatus.ISSUED.value)
        .values(status=UnitStatus.CANCELLED.value, updated_at=uow.now)
        .returning(OrderCard.id)
    )
    if res.first() is None:  # pragma: no cover - the unit row is locked by this transaction
        raise InvalidState("order card changed concurrently", param="cards")


async def _refund(uow: UnitOfWork, order: Any, amount: int, units: list[tuple[str, int]]) -> None:
    from giftwell.services.access import accounts

    op = await accounts.operator_account(uow)
    sales = await ledger_accounts.system_account(uow, account_id=op.id, kind=AccountKind.SALES, currency=order.currency)
    res = await uow.conn.execute(
        sa.update(Order)
        .where(Order.id == order.id, Order.charged - Order.refunded >= amount)
        .values(refunded=Order.refunded + amount, updated_at=uow.now)
        .returning(Order.id)
    )
    if res.first() is None:
        raise ValidationFailed("refund exceeds what the order was charged", param="cards")
    p = await transfers.post(
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
    await billing.receipt(uow, order, ReceiptKind.REFUND, p.transfer, units)
