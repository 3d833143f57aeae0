"""Placing an order: check every item, reserve the funds, record the units, fulfil small orders
at once and leave larger ones to the background.

Money: the whole order's price is reserved first as one hold on the buyer's funding account
(`insufficient_funds` and nothing else happens when it is not there). Each fulfilment batch then
captures the price of the cards it issued from that hold (`ledger.capture_part`) in the same
transaction that issues them, and the order's end releases what is left. So the funding balance
moves exactly by the price of the cards issued, at every commit. See docs/orders.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from giftwell.domain.catalog import add_months, check_fields
from giftwell.domain.errors import Conflict, InsufficientFunds, NotFound, ValidationFailed
from giftwell.domain.expiry_policy import check_lifetime
from giftwell.domain.funding import SourceKind
from giftwell.domain.ids import new_id
from giftwell.domain.ledger import AccountKind, TransferKind
from giftwell.domain.metadata import check_metadata
from giftwell.domain.orders import (
    MAX_CARDS_PER_ORDER,
    MAX_ITEMS_PER_ORDER,
    MAX_MESSAGE,
    Mode,
    OrderStatus,
    UnitStatus,
    sync_allowed,
)
from giftwell.services import events
from giftwell.services.access import accounts
from giftwell.services.catalog import products
from giftwell.services.funding import sources as funding_sources
from giftwell.services.funding.sources import Source
from giftwell.services.ledger import accounts as ledger_accounts
from giftwell.services.ledger import transfers
from giftwell.services.ledger.transfers import Leg, LegRefused
from giftwell.services.orders import fulfilment
from giftwell.services.orders import views as order_views
from giftwell.services.orders.items import Checked as _Checked
from giftwell.services.orders.items import ChoiceRequest, ItemRequest, check_choice, check_one_country, delivery, party
from giftwell.services.orders.views import OrderView
from giftwell.services.queue import jobs
from giftwell.store.models import Order, OrderCard, OrderItem
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class OrderRequest:
    reference: str
    items: list[ItemRequest]
    test: bool = False
    mode: Mode = Mode.AUTO
    metadata: dict[str, str] = field(default_factory=dict)
    # A vendor dialect's own fields for the order, kept as given (JSON) and shown back by it.
    vendor_data: dict[str, Any] | None = None
    # The fingerprint of the request as the client sent it: a second submit of the same reference
    # is a replay when it matches (`references.submit`), a duplicate when it does not.
    fingerprint: str | None = None
    # The funding source to pay from (`fs_...`); None: the account's default for the currency.
    funding_source: str | None = None
    # Every item must name the same country (WeGift's rule); refused naming the items that differ.
    one_country: bool = False


__all__ = ["ChoiceRequest", "ItemRequest", "OrderRequest", "check_order", "place", "place_order"]


async def _check_item(uow: UnitOfWork, i: int, item: ItemRequest, currency: str | None) -> _Checked:
    p = f"items[{i}]"
    try:
        product = await products.get(uow, item.product)
    except NotFound:
        raise ValidationFailed(f"no such product {item.product!r}", param=f"{p}.product", rule="unknown") from None
    product.check_orderable(country=item.country, param=f"{p}.product")
    if item.currency is not None and product.currency != item.currency:
        raise ValidationFailed(
            f"{product.id} is sold in {product.currency}, not {item.currency}", param=f"{p}.currency", rule="currency"
        )
    if currency is not None and product.currency != currency:
        raise ValidationFailed(
            f"all items of an order share one currency ({currency}); {product.id} is {product.currency}",
            param=f"{p}.product",
            rule="currency",
        )
    if isinstance(item.quantity, bool) or not isinstance(item.quantity, int) or item.quantity < 1:
        raise ValidationFailed("quantity must be at least 1", param=f"{p}.quantity")
    product.denominations.check(item.amount, param=f"{p}.amount")
    if product.expiry_months:
        # Checked again when each card is issued; here the error names the item.
        expires = add_months(uow.now, product.expiry_months)
        check_lifetime(product.expiry_policy, expires, uow.now, whose=f"product {product.id}", param=f"{p}.product")
    if item.message is not None and len(item.message) > MAX_MESSAGE:
        raise ValidationFailed(f"message is longer than {MAX_MESSAGE} characters", param=f"{p}.message")
    fields = check_fields(product.required_fields, item.fields, param=f"{p}.fields")
    recipient = party(item.recipient, f"{p}.recipient", phone=True)
    sender = party(item.sender, f"{p}.sender", phone=False)
    sent = delivery(item.delivery, recipient, p, uow.now)
    if sent is not None:
        product.check_delivery(sent["channel"], param=f"{p}.delivery.channel")
    metadata = check_metadata(item.metadata, param=f"{p}.metadata")
    design = product.design(item.design, param=f"{p}.design").id if item.design is not None else None
    price = product.price.price(item.amount)
    return _Checked(item, product, product.currency, price, fields, recipient, sender, sent, metadata, design)


async def check_order(uow: UnitOfWork, req: OrderRequest) -> list[_Checked]:
    """Every rule an order must pass before anything is charged; errors name item and field."""
    if not isinstance(req.reference, str) or not req.reference.strip() or len(req.reference) > 200:
        raise ValidationFailed("reference must be 1 to 200 characters", param="reference")
    if not req.items:
        raise ValidationFailed("an order needs at least one item", param="items")
    if len(req.items) > MAX_ITEMS_PER_ORDER:
        raise ValidationFailed(f"an order has at most {MAX_ITEMS_PER_ORDER} items", param="items")
    check_metadata(req.metadata)
    if req.one_country:
        check_one_country(req.items)
    checked: list[_Checked] = []
    for i, item in enumerate(req.items):
        check = check_choice if item.is_choice else _check_item
        checked.append(await check(uow, i, item, checked[0].currency if checked else None))
    cards = sum(c.req.quantity for c in checked)
    if cards > MAX_CARDS_PER_ORDER:
        raise ValidationFailed(f"an order makes at most {MAX_CARDS_PER_ORDER} cards ({cards} asked)", param="items")
    if req.mode is Mode.SYNC and not sync_allowed(req.mode, cards):
        raise ValidationFailed("a synchronous order makes at most 10 cards; use mode auto or async", param="mode")
    return checked


async def place_order(uow: UnitOfWork, *, account_id: str, req: OrderRequest, reveal: bool = True) -> OrderView:
    """`place`, then the order as it stands at commit: with its cards and codes
    (`views.reveal_order`, the showing recorded), or with `reveal=False` with its items' counts
    only (`views.get_order`)."""
    order_id = await place(uow, account_id=account_id, req=req)
    if not reveal:
        return await order_views.get_order(uow, account_id=account_id, order_id=order_id)
    return await order_views.reveal_order(uow, account_id=account_id, order_id=order_id)


async def place(uow: UnitOfWork, *, account_id: str, req: OrderRequest) -> str:
    """Check, reserve, record; fulfil at once when small (or `mode=sync`), else leave it `pending`
    for the background (`_schedule_fulfilment`). Returns the order's id."""
    checked = await check_order(uow, req)
    reference = req.reference.strip()
    taken = await uow.conn.execute(
        sa.select(Order.id).where(Order.account_id == account_id, Order.reference == reference)
    )
    if taken.first() is not None:
        raise Conflict("an order with this reference already exists", param="reference")
    currency = checked[0].currency
    cards = sum(c.req.quantity for c in checked)
    total_face = sum(c.req.amount * c.req.quantity for c in checked)
    total_price = sum(c.price * c.req.quantity for c in checked)
    source = await funding_sources.for_order(
        uow, account_id=account_id, currency=currency, source_id=req.funding_source
    )
    order_id = new_id("ord")
    try:
        await uow.conn.execute(
            sa.insert(Order).values(
                id=order_id,
                account_id=account_id,
                reference=reference,
                status=OrderStatus.PENDING.value,
                mode=req.mode.value,
                test=req.test,
                currency=currency,
                card_count=cards,
                total_face_value=total_face,
                total_price=total_price,
                charged=0,
                refunded=0,
                created_at=uow.now,
                updated_at=uow.now,
                metadata_=check_metadata(req.metadata),
                vendor_data=req.vendor_data,
                request_fingerprint=req.fingerprint,
                funding_source_id=source.id,
            )
        )
    except IntegrityError:
        raise Conflict("an order with this reference already exists", param="reference") from None
    if not req.test and total_price > 0:
        await _reserve(uow, account_id=account_id, order_id=order_id, source=source, amount=total_price)
    await _record_units(uow, account_id, order_id, checked)
    await order_views.index_metadata(uow, account_id=account_id, order_id=order_id, item_id="", data=req.metadata)
    await events.record(
        uow,
        account_id=account_id,
        type="order.created",
        subject_id=order_id,
        data={"order": order_id, "reference": reference, "cards": cards, "total_price": total_price, "test": req.test},
    )
    if sync_allowed(req.mode, cards):
        # Small orders are issued in the request's own transaction: the order, its hold, its cards
        # and their charges commit together or not at all.
        await fulfilment.run_batch(uow, order_id, limit=cards)
        await fulfilment.finish(uow, order_id)
    else:
        await _schedule_fulfilment(uow, order_id, account_id=account_id)
    return order_id


FULFIL_JOB = "order.fulfil"


async def _schedule_fulfilment(uow: UnitOfWork, order_id: str, *, account_id: str) -> None:
    """Hand an order to the background: a job in this same transaction (the job queue), so an order
    that commits is always fulfilled, whatever crashes after. The handler is
    `jobs/handlers/orders.py`, calling `fulfilment.fulfil`, which is safe to run twice."""
    await jobs.enqueue(
        uow, FULFIL_JOB, {"order_id": order_id}, dedupe_key=f"{FULFIL_JOB}:{order_id}", account_id=account_id
    )


async def _reserve(uow: UnitOfWork, *, account_id: str, order_id: str, source: Source, amount: int) -> None:
    currency, fund = source.currency, source.ledger_account_id
    op = await accounts.operator_account(uow)
    sales = await ledger_accounts.system_account(uow, account_id=op.id, kind=AccountKind.SALES, currency=currency)
    try:
        held = await transfers.hold(
            uow,
            account_id=account_id,
            kind=TransferKind.CHARGE,
            currency=currency,
            amount=amount,
            debit=Leg(fund, guarded=True),
            credit=Leg(sales, guarded=False),
            ttl=timedelta(seconds=uow.rt.settings.order_hold_ttl_seconds),
            reference=order_id,
        )
    except LegRefused:
        now = await funding_sources.get_source(uow, account_id=account_id, source_id=source.id)
        available = now.state.available
        what = "credit" if now.kind is SourceKind.CREDIT_LINE else "funds"
        raise InsufficientFunds(
            f"insufficient {what}: available {available} {currency}, order costs {amount}",
            param="items",
            available=available,
            required=amount,
            currency=currency,
            funding_source=source.id,
        ) from None
    await uow.conn.execute(
        sa.update(Order).where(Order.id == order_id).values(funding_account_id=fund, hold_transfer_id=held.transfer.id)
    )


async def _record_units(uow: UnitOfWork, account_id: str, order_id: str, checked: list[_Checked]) -> None:
    operator: str | None = None
    keys = uow.rt.keys
    for pos, c in enumerate(checked):
        issuer = c.product.issuer_account_id if c.product is not None else None
        if issuer is None:
            if operator is None:
                operator = (await accounts.operator_account(uow)).id
            issuer = operator
        item_id = new_id("oi")
        await uow.conn.execute(
            sa.insert(OrderItem).values(
                id=item_id,
                order_id=order_id,
                position=pos,
                product_id=c.product.id if c.product is not None else None,
                amount=c.req.amount,
                quantity=c.req.quantity,
                price=c.price,
                country=c.req.country,
                recipient=c.recipient,
                sender=c.sender,
                message=c.req.message,
                fields=c.fields,
                delivery=c.delivery,
                metadata_=c.metadata,
                design_id=c.design,
                vendor_data=c.req.vendor_data,
                choice=c.choice,
            )
        )
        await order_views.index_metadata(
            uow, account_id=account_id, order_id=order_id, item_id=item_id, data=c.metadata
        )
        rows = []
        for index in range(c.req.quantity):
            unit_id = new_id("oc")
            rows.append(
                {
                    "id": unit_id,
                    "order_id": order_id,
                    "item_id": item_id,
                    "position": pos * MAX_CARDS_PER_ORDER + index,
                    # The supplier's idempotency key: the same unit always asks for the same card.
                    "supply_key": f"{item_id}:{index}",
                    "status": UnitStatus.PENDING.value,
                    "issuer_account_id": issuer,
                    "price": c.price,
                    "link_token_hash": keys.link_hash(keys.link_token(unit_id)),
                    "updated_at": uow.now,
                }
            )
        for start in range(0, len(rows), 500):
            await uow.conn.execute(sa.insert(OrderCard), rows[start : start + 500])
