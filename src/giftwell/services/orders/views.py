"""Reading orders: one order with its items and cards (codes, PINs and reward links shown to
the buyer, who owns them, and every showing recorded), by id or reference, and a filtered list.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

import sqlalchemy as sa

from giftwell.domain.errors import NotFound
from giftwell.domain.orders import DELIVERED, OrderStatus, UnitStatus, item_status
from giftwell.domain.suppliers import code_aad, pin_aad
from giftwell.services import events
from giftwell.services.cards import reads as cards
from giftwell.services.delivery import reward
from giftwell.services.pagination import Page, newest_first, paginate
from giftwell.store.models import Card, Order, OrderCard, OrderItem, OrderMetadata, SuppliedCard
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class CardView:
    id: str
    status: str
    card_id: str | None
    card_status: str | None
    code: str | None
    pin: str | None
    serial: str | None
    link: str | None
    expires_at: datetime | None
    error: str | None
    # A card an upstream supplier made: its reference for the card (`transactionId`) and its own
    # redemption instructions, when it gave some; no card_id.
    upstream_transaction_id: str | None = None
    upstream_instruction: str | None = None


@dataclass(frozen=True, slots=True)
class ItemView:
    id: str
    # None for a choice item (`choice`: its products and the links' expiry).
    product: str | None
    amount: int
    quantity: int
    price: int
    status: str
    country: str | None
    recipient: dict[str, Any]
    sender: dict[str, Any]
    message: str | None
    fields: dict[str, Any]
    delivery: dict[str, Any] | None
    cards: list[CardView]
    metadata: dict[str, str]
    design: str | None = None
    vendor_data: dict[str, Any] | None = None
    # How many of its cards are in each unit status (pending, issued, failed, cancelled).
    counts: dict[str, int] = field(default_factory=dict)
    choice: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class OrderView:
    id: str
    reference: str
    status: OrderStatus
    mode: str
    test: bool
    currency: str
    card_count: int
    total_face_value: int
    total_price: int
    charged: int
    refunded: int
    created_at: datetime
    completed_at: datetime | None
    items: list[ItemView] | None
    metadata: dict[str, str]
    vendor_data: dict[str, Any] | None = None
    funding_source: str | None = None


def _summary(r: Any, items: list[ItemView] | None) -> OrderView:
    return OrderView(
        id=r.id,
        reference=r.reference,
        status=OrderStatus(r.status),
        mode=r.mode,
        test=bool(r.test),
        currency=r.currency,
        card_count=int(r.card_count),
        total_face_value=int(r.total_face_value),
        total_price=int(r.total_price),
        charged=int(r.charged),
        refunded=int(r.refunded),
        created_at=r.created_at,
        completed_at=r.completed_at,
        items=items,
        metadata=dict(r.metadata or {}),
        vendor_data=r.vendor_data,
        funding_source=r.funding_source_id,
    )


async def reveal_order(
    uow: UnitOfWork, *, account_id: str, order_id: str, withhold_delivered: bool = False
) -> OrderView:
    """The caller's order with every card. Showing codes is recorded: each issued card's
    `reveal_count` goes up and one `order.codes_revealed` event names how many were shown.
    `withhold_delivered`: the cards of items Giftwell delivers (email or SMS) are shown without
    code, PIN or link, and not counted as shown (a vendor's managed fulfilment)."""
    row = (await uow.conn.execute(sa.select(Order).where(Order.id == order_id, Order.account_id == account_id))).first()
    if row is None:
        raise NotFound("no such order", param="order")
    return _summary(row, await _items(uow, row, withhold_delivered=withhold_delivered))


async def get_order(uow: UnitOfWork, *, account_id: str, order_id: str) -> OrderView:
    """The caller's order with its items and how many of each item's cards are in each status,
    but not the cards themselves (`order_cards.list_cards` pages through those): a read of
    constant size, whatever the order's, that shows no code and records nothing."""
    row = (await uow.conn.execute(sa.select(Order).where(Order.id == order_id, Order.account_id == account_id))).first()
    if row is None:
        raise NotFound("no such order", param="order")
    counted = await uow.conn.execute(
        sa.select(OrderCard.item_id, OrderCard.status, sa.func.count())
        .where(OrderCard.order_id == order_id)
        .group_by(OrderCard.item_id, OrderCard.status)
    )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for item_id, status, n in counted:
        counts[item_id][buyer_status(status)] += int(n)
    return _summary(row, _item_views(await _item_rows(uow, row.id), counts, {}))


async def with_items(uow: UnitOfWork, *, account_id: str, page: Page[OrderView]) -> Page[OrderView]:
    """`page` with each order's items and their counts, as `get_order` shows them."""
    shown = [await get_order(uow, account_id=account_id, order_id=o.id) for o in page.data]
    return Page(shown, page.has_more, page.next_cursor)


async def summary(uow: UnitOfWork, *, account_id: str, order_id: str) -> OrderView:
    """The caller's order without its items (so without codes: nothing is shown or recorded)."""
    row = (await uow.conn.execute(sa.select(Order).where(Order.id == order_id, Order.account_id == account_id))).first()
    if row is None:
        raise NotFound("no such order", param="order")
    return _summary(row, None)


async def reveal_listed(uow: UnitOfWork, *, account_id: str, page: Page[OrderView]) -> Page[OrderView]:
    """`page` with each order's items and cards, codes shown (and each showing recorded, as by
    `reveal_order`): the list filtered by `reference`, which names one order."""
    shown = [await reveal_order(uow, account_id=account_id, order_id=o.id) for o in page.data]
    return Page(shown, page.has_more, page.next_cursor)


# What the reads join to show a card an upstream supplier made (`supplied` is not None then).
SUPPLIED_COLUMNS = (
    SuppliedCard.code_enc,
    SuppliedCard.pin_enc,
    SuppliedCard.serial.label("supplied_serial"),
    SuppliedCard.link,
    SuppliedCard.expires_on,
    SuppliedCard.transaction_id,
    SuppliedCard.instruction.label("supplied_instruction"),
    SuppliedCard.order_card_id.label("supplied"),
)


def buyer_status(status: str) -> str:
    """A unit's status as the buyer sees it: one an upstream is making is still pending."""
    return UnitStatus.PENDING.value if status == UnitStatus.ORDERED.value else status


def supplied_secrets(keys: Any, u: Any) -> tuple[str | None, str | None, datetime | None]:
    """The code, PIN and expiry of a card an upstream supplier made (a row with SUPPLIED_COLUMNS)."""
    code = keys.decrypt(u.code_enc, aad=code_aad(u.id)) if u.code_enc is not None else None
    pin = keys.decrypt(u.pin_enc, aad=pin_aad(u.id)) if u.pin_enc is not None else None
    expires = datetime.combine(u.expires_on, time(0), UTC) if u.expires_on is not None else None
    return code, pin, expires


def _supplied(keys: Any, u: Any) -> CardView:
    """An issued unit whose card an upstream supplier made: what it told us, decrypted."""
    code, pin, expires = supplied_secrets(keys, u)
    return CardView(
        u.id,
        u.status,
        None,
        None,
        code,
        pin,
        u.supplied_serial,
        u.link,
        expires,
        u.error,
        u.transaction_id,
        u.supplied_instruction,
    )


async def _stored_token(uow: UnitOfWork, card_id: str, unit_id: str) -> str:
    try:
        return await reward.token_of(uow, card_id)
    except NotFound:
        return uow.rt.keys.link_token(unit_id)


def _delivered(item: Any) -> bool:
    return (item.delivery or {}).get("channel") in DELIVERED


async def _items(uow: UnitOfWork, order: Any, *, withhold_delivered: bool = False) -> list[ItemView]:
    rows = await _item_rows(uow, order.id)
    withheld = {it.id for it in rows if _delivered(it)} if withhold_delivered else set()
    units = (
        await uow.conn.execute(
            sa.select(
                OrderCard,
                Card.status.label("card_status"),
                Card.serial,
                Card.expires_at,
                *SUPPLIED_COLUMNS,
            )
            .outerjoin(Card, Card.id == OrderCard.card_id)
            .outerjoin(SuppliedCard, SuppliedCard.order_card_id == OrderCard.id)
            .where(OrderCard.order_id == order.id)
            .order_by(OrderCard.position)
        )
    ).all()
    base = uow.rt.settings.base_url
    keys = uow.rt.keys
    by_item: dict[str, list[CardView]] = defaultdict(list)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    shown: list[str] = []
    for u in units:
        status = buyer_status(u.status)
        counts[u.item_id][status] += 1
        issued = u.status == UnitStatus.ISSUED.value
        if issued and u.supplied is not None:
            by_item[u.item_id].append(_supplied(keys, u))
            shown.append(u.id)
            continue
        code = pin = link = None
        if u.card_id is not None and issued and u.item_id not in withheld:
            code, pin = await cards.reveal_code(uow, account_id=u.issuer_account_id, card_id=u.card_id)
            # Under the secret that made it (a key rotation keeps links already sent working);
            # the stored token when no configured secret made it any more.
            token = keys.link_token_matching(u.id, u.link_token_hash) or await _stored_token(uow, u.card_id, u.id)
            link = f"{base}/r/{token}"
            shown.append(u.id)
        by_item[u.item_id].append(
            CardView(u.id, status, u.card_id, u.card_status, code, pin, u.serial, link, u.expires_at, u.error)
        )
    if shown:
        counted = sa.update(OrderCard).where(
            OrderCard.order_id == order.id, OrderCard.status == UnitStatus.ISSUED.value
        )
        if withheld:
            counted = counted.where(OrderCard.item_id.not_in(withheld))
        await uow.conn.execute(counted.values(reveal_count=OrderCard.reveal_count + 1, last_revealed_at=uow.now))
        await events.record(
            uow,
            account_id=order.account_id,
            type="order.codes_revealed",
            subject_id=order.id,
            data={"order": order.id, "cards": len(shown)},
        )
    return _item_views(rows, counts, by_item)


async def _item_rows(uow: UnitOfWork, order_id: str) -> list[Any]:
    query = sa.select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.position)
    return list((await uow.conn.execute(query)).all())


def _item_views(
    rows: list[Any], counts: dict[str, dict[str, int]], by_item: dict[str, list[CardView]]
) -> list[ItemView]:
    out = []
    for it in rows:
        c = counts[it.id]
        status = item_status(
            pending=c[UnitStatus.PENDING.value],
            issued=c[UnitStatus.ISSUED.value],
            failed=c[UnitStatus.FAILED.value],
            cancelled=c[UnitStatus.CANCELLED.value],
        )
        out.append(
            ItemView(
                id=it.id,
                product=it.product_id,
                amount=int(it.amount),
                quantity=int(it.quantity),
                price=int(it.price),
                status=status,
                country=it.country,
                recipient=it.recipient,
                sender=it.sender,
                message=it.message,
                fields=it.fields,
                delivery=it.delivery,
                cards=by_item.get(it.id, []),
                metadata=dict(it.metadata or {}),
                design=it.design_id,
                vendor_data=it.vendor_data,
                counts={u.value: int(c[u.value]) for u in UnitStatus},
                choice=it.choice,
            )
        )
    return out


async def list_orders(
    uow: UnitOfWork,
    *,
    account_id: str,
    status: OrderStatus | None = None,
    reference: str | None = None,
    created_gte: datetime | None = None,
    created_lte: datetime | None = None,
    metadata: dict[str, str] | None = None,
    item_metadata: dict[str, str] | None = None,
    limit: int = 20,
    cursor: str | None = None,
    open_only: bool = False,
) -> Page[OrderView]:
    """The account's orders, newest first, without their cards (fetch one order for those).
    `open_only`: those still in flight (pending or processing), as the home page counts them.
    `metadata` keeps the orders whose own metadata has every given key with exactly the given
    value; `item_metadata`, those with an item whose metadata does (each pair on some item)."""
    q = sa.select(Order).where(Order.account_id == account_id)
    for key, value in (metadata or {}).items():
        q = q.where(Order.id.in_(_tagged(account_id, key, value, items=False)))
    for key, value in (item_metadata or {}).items():
        q = q.where(Order.id.in_(_tagged(account_id, key, value, items=True)))
    if status is not None:
        q = q.where(Order.status == status.value)
    if open_only:
        q = q.where(Order.status.in_([s.value for s in OrderStatus if s.open]))
    if reference is not None:
        q = q.where(Order.reference == reference)
    if created_gte is not None:
        q = q.where(Order.created_at >= created_gte)
    if created_lte is not None:
        q = q.where(Order.created_at <= created_lte)
    sort = newest_first(Order.created_at, Order.id)
    return await paginate(uow, q, sort=sort, limit=limit, cursor=cursor, convert=lambda r: _summary(r, None))


def _tagged(account_id: str, key: str, value: str, *, items: bool) -> sa.Select[Any]:
    found = sa.select(OrderMetadata.order_id).where(
        OrderMetadata.account_id == account_id, OrderMetadata.key == key, OrderMetadata.value == value
    )
    return found.where(OrderMetadata.item_id != "" if items else OrderMetadata.item_id == "")


async def index_metadata(
    uow: UnitOfWork, *, account_id: str, order_id: str, item_id: str, data: dict[str, str]
) -> None:
    """Index an order's (`item_id` empty) or an item's metadata for `list_orders`' exact search;
    called in the transaction that writes the order."""
    if data:
        rows = [
            {"order_id": order_id, "item_id": item_id, "key": k, "account_id": account_id, "value": v}
            for k, v in data.items()
        ]
        await uow.conn.execute(sa.insert(OrderMetadata), rows)
