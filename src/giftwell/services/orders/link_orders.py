"""Orders of choice reward links as a vendor that sells only links shows them (WeGift's `/v2`):
each order with its items' counts, its links (balances, opens, picks) and their deliveries, the
receipt of its first charge and the buyer's name; placed once per idempotency key whatever the
body; listed newest first around an order (`before`, `after`). Procedures: each owns its reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from giftwell.domain.catalog import Product
from giftwell.domain.errors import ValidationFailed
from giftwell.services.access import accounts
from giftwell.services.catalog import products as catalog
from giftwell.services.currencies import country_currency
from giftwell.services.delivery import choice, choice_sending
from giftwell.services.delivery.choice import LinkView
from giftwell.services.delivery.choice_sending import LinkDelivery
from giftwell.services.funding import receipts
from giftwell.services.orders import references
from giftwell.services.orders import views as order_views
from giftwell.services.orders.placing import OrderRequest
from giftwell.services.orders.views import OrderView
from giftwell.services.runtime import Runtime
from giftwell.store.models import Order
from giftwell.store.uow import UnitOfWork

MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class LinkOrder:
    order: OrderView
    account_id: str
    customer_name: str
    receipt_id: str | None
    # The order's links by item id, in the order's order; and each link's deliveries.
    links: dict[str, list[LinkView]]
    deliveries: dict[str, list[LinkDelivery]]


async def _bundle(uow: UnitOfWork, account_id: str, order_id: str) -> LinkOrder:
    order = await order_views.get_order(uow, account_id=account_id, order_id=order_id)
    found = await choice.for_order(uow, account_id=account_id, order_id=order_id, limit=10_000)
    by_item: dict[str, list[LinkView]] = {}
    for link in found:
        by_item.setdefault(link.item_id, []).append(link)
    sent = await choice_sending.for_links(uow, [link.id for link in found])
    name = (await accounts.get_account(uow, account_id)).name
    receipt = await receipts.first_charge(uow, account_id=account_id, order_id=order_id)
    return LinkOrder(order, account_id, name, receipt, by_item, sent)


async def place_once(rt: Runtime, *, account_id: str, req: OrderRequest) -> tuple[LinkOrder, bool]:
    """Place `req` under its reference, or (the reference taken) the order placed with it,
    whatever this request says; and whether it was a replay."""
    done = await references.submit(rt, account_id=account_id, req=req, show_codes=False, any_body=True)
    return await get(rt, account_id=account_id, order_id=done.order.id), done.replayed


async def get(rt: Runtime, *, account_id: str, order_id: str) -> LinkOrder:
    async with rt.reader() as uow:
        return await _bundle(uow, account_id, order_id)


async def _anchor(uow: UnitOfWork, account_id: str, order_id: str, param: str) -> tuple[datetime, str]:
    row = (
        await uow.conn.execute(
            sa.select(Order.created_at, Order.id).where(Order.id == order_id, Order.account_id == account_id)
        )
    ).first()
    if row is None:
        raise ValidationFailed(f"{param} names no order of yours", param=param, rule="pagination")
    return row.created_at, row.id


async def page(
    rt: Runtime, *, account_id: str, limit: int, before: str | None, after: str | None
) -> tuple[list[LinkOrder], bool]:
    """Orders newest first: `after` an order, the older ones (the next page); `before` one, the
    newer ones (the page before, still newest first). Whether more are there that way."""
    if before is not None and after is not None:
        raise ValidationFailed("give before or after, not both", param="before", rule="pagination")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be 1 to {MAX_LIMIT}", param="limit", rule="pagination")
    key = (Order.created_at, Order.id)
    async with rt.reader() as uow:
        q = sa.select(Order.id).where(Order.account_id == account_id)
        if after is not None:
            at, oid = await _anchor(uow, account_id, after, "after")
            q = q.where(sa.tuple_(*key) < sa.tuple_(sa.literal(at), sa.literal(oid))).order_by(
                Order.created_at.desc(), Order.id.desc()
            )
        elif before is not None:
            at, oid = await _anchor(uow, account_id, before, "before")
            q = q.where(sa.tuple_(*key) > sa.tuple_(sa.literal(at), sa.literal(oid))).order_by(
                Order.created_at, Order.id
            )
        else:
            q = q.order_by(Order.created_at.desc(), Order.id.desc())
        ids = list((await uow.conn.execute(q.limit(limit + 1))).scalars())
        more = len(ids) > limit
        ids = ids[:limit]
        if before is not None:
            ids.reverse()
        return [await _bundle(uow, account_id, i) for i in ids], more


async def catalog_for(rt: Runtime, *, country: str) -> list[Product]:
    """The products a recipient in `country` may pick, in its currency (`choice.choosable`)."""
    cur = country_currency(country, param="country_code").code
    async with rt.reader() as uow:
        found = await catalog.list_products(uow, currency=cur, country=country)
    return [p for p in found if choice.choosable(p, currency=cur, country=country)]
