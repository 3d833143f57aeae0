"""An order's progress for the dashboard: the order, and per item how many of its cards are
issued, pending, failed or cancelled. Never a code: showing codes is `views.reveal_order`'s
business (and it records each showing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from giftwell.domain.errors import NotFound
from giftwell.services.orders.views import OrderView, list_orders
from giftwell.store.models import Order, OrderCard, OrderItem
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class ItemProgress:
    id: str
    product: str | None  # None for a choice item
    amount: int
    quantity: int
    price: int
    counts: dict[str, int]  # unit status -> cards
    choice: dict[str, Any] | None = None  # a choice item's products


@dataclass(frozen=True, slots=True)
class Progress:
    order: OrderView
    items: list[ItemProgress]

    @property
    def done(self) -> int:
        return sum(n for i in self.items for s, n in i.counts.items() if s != "pending")

    @property
    def percent(self) -> int:
        return 100 if not self.order.card_count else self.done * 100 // self.order.card_count


async def progress(uow: UnitOfWork, *, account_id: str, order_id: str) -> Progress:
    row = (
        await uow.conn.execute(sa.select(Order.reference).where(Order.id == order_id, Order.account_id == account_id))
    ).first()
    if row is None:
        raise NotFound("no such order", param="order")
    (order,) = (await list_orders(uow, account_id=account_id, reference=row.reference, limit=1)).data
    counts: dict[str, dict[str, int]] = {}
    for r in await uow.conn.execute(
        sa.select(OrderCard.item_id, OrderCard.status, sa.func.count().label("n"))
        .where(OrderCard.order_id == order_id)
        .group_by(OrderCard.item_id, OrderCard.status)
    ):
        counts.setdefault(r.item_id, {})[r.status] = int(r.n)
    items = await uow.conn.execute(
        sa.select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.position)
    )
    return Progress(
        order,
        [
            ItemProgress(
                i.id, i.product_id, int(i.amount), int(i.quantity), int(i.price), counts.get(i.id, {}), i.choice
            )
            for i in items
        ],
    )
