"""An order's receipts: each charge (a fulfilment batch capturing its cards' prices) and each
refund (cards cancelled) gets its receipt in the transaction that posts it, with one line per
order item: the product, how many of its cards, and the price of each."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from giftwell.domain.funding import Line, ReceiptKind
from giftwell.domain.ledger import Transfer
from giftwell.services.funding import receipts
from giftwell.services.funding.receipts import Receipt
from giftwell.store.models import OrderItem, Product
from giftwell.store.uow import UnitOfWork

CHOICE_LINE = "Reward link with a choice of products"


async def lines(uow: UnitOfWork, units: list[tuple[str, int]]) -> list[Line]:
    """The lines for some of an order's units, each given as (item id, price): one per item, in
    the order's item order."""
    counts: dict[str, tuple[int, int]] = {}
    for item_id, price in units:
        n, total = counts.get(item_id, (0, 0))
        counts[item_id] = (n + 1, total + price)
    rows = (
        await uow.conn.execute(
            sa.select(
                OrderItem.id, OrderItem.position, OrderItem.amount, OrderItem.price, OrderItem.product_id, Product.name
            )
            .outerjoin(Product, Product.id == OrderItem.product_id)
            .where(OrderItem.id.in_(counts))
            .order_by(OrderItem.position)
        )
    ).all()
    return [
        Line(
            r.name or CHOICE_LINE,
            counts[r.id][1],
            counts[r.id][0],
            int(r.price),
            r.product_id,
            r.id,
            face_value=int(r.amount),
        )
        for r in rows
    ]


async def receipt(
    uow: UnitOfWork, order: Any, kind: ReceiptKind, transfer: Transfer, units: list[tuple[str, int]]
) -> Receipt:
    """The receipt of an order's charge (a fulfilment batch: `units` are the cards it captured)
    or refund (a cancellation: the cards whose prices went back)."""
    return await receipts.record(
        uow,
        account_id=order.account_id,
        funding_source_id=order.funding_source_id,
        kind=kind,
        transfer=transfer,
        lines=await lines(uow, units),
        order_id=order.id,
    )
