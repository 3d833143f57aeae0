"""Buying an order item's cards from an upstream supplier, and settling its units with them.

A fulfilment batch leaves each unit of an upstream product `ordered` and, in the same
transaction, records the item's purchase (`supplier_orders`) and its job
(`catalog.suppliers.UpstreamSupplier`). The job (`jobs/handlers/suppliers.py`) calls `advance`:

1. once every unit of its part is `ordered` (a batch still holding some: wait), place the
   upstream order (`POST /order`) with the purchase's `referenceId`, derived from the item and
   part, and the item's product, amount (major units), required fields and the part's number
   of cards (an item larger than the supplier's `max_quantity` is bought in parts); a retry
   after a crash or a timeout first asks the upstream for that reference, and sending it again
   is harmless anyway, so nothing is ever bought twice;
2. poll it (`GET /order?referenceId=`) until it is completed, partial or failed, waiting longer
   each time (`GIFTWELL_SUPPLIER_POLL_SECONDS`, doubling, capped);
3. settle (`apply`): in one transaction, mark the purchase done (a guarded update, so the poll
   and the upstream's webhook, whichever comes second, do nothing), store each card the
   upstream made (code and PIN encrypted), and hand the units to `fulfilment.settle_awaited`
   (issued cards charged, failed ones released, the order ended when nothing waits). Each
   purchase settles only the units of its own part.

The upstream's signed webhook (`receive`) settles the same way, usually before the next poll.
5xx, timeouts and 429 are retried with the job's backoff; a 4xx fails the item's cards with the
upstream's message; a 401 after a token refresh pauses the supplier and the job waits for an
operator. A purchase still not done when the order's funds reservation runs out fails its cards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from giftwell.adapters.wizzgift import parse_order
from giftwell.domain.errors import NotFound, Unauthenticated, ValidationFailed
from giftwell.domain.money import to_major
from giftwell.domain.orders import MAX_CARDS_PER_ORDER, UnitStatus
from giftwell.domain.suppliers import (
    PurchaseStatus,
    SupplierPaused,
    UpstreamCard,
    UpstreamOrder,
    UpstreamRefused,
    code_aad,
    outcomes,
    pin_aad,
    poll_delay,
)
from giftwell.domain.webhooks import x_signature_valid
from giftwell.services.catalog.upstream import config, tokens
from giftwell.services.currencies import currency
from giftwell.services.orders import fulfilment
from giftwell.services.runtime import Runtime
from giftwell.store.models import Order, OrderCard, OrderItem, SuppliedCard, SupplierOrder
from giftwell.store.models import Product as ProductRow
from giftwell.store.uow import UnitOfWork

NOT_MADE = "the supplier did not make this card"


@dataclass(frozen=True, slots=True)
class Step:
    """What the purchase job does next: stop (`retry_in` None), or run again after `retry_in`."""

    retry_in: float | None
    reason: str


DONE = Step(None, "done")


@dataclass(frozen=True, slots=True)
class Purchase:
    id: str
    supplier_id: str
    order_id: str
    reference: str
    status: PurchaseStatus
    polls: int
    body: dict[str, Any]  # the upstream order's body
    deadline: Any
    waiting: int  # units of its part not yet handed to it (a fulfilment batch still to commit)


def _positions(item_position: int, part: int, part_size: int) -> tuple[int, int]:
    """The positions of the units a purchase buys (`OrderCard.position` is the item's position
    times `MAX_CARDS_PER_ORDER` plus the unit's index): from, and up to but not including."""
    first = item_position * MAX_CARDS_PER_ORDER + (part - 1) * part_size
    return first, first + part_size


def _in_part(lo: int, hi: int) -> Any:
    return sa.and_(OrderCard.position >= lo, OrderCard.position < hi)


async def _unit_counts(uow: UnitOfWork, purchase_id: str) -> dict[str, int]:
    """The purchase's units by status."""
    r = (
        await uow.conn.execute(
            sa.select(SupplierOrder.item_id, SupplierOrder.part, SupplierOrder.part_size, OrderItem.position)
            .join(OrderItem, OrderItem.id == SupplierOrder.item_id)
            .where(SupplierOrder.id == purchase_id)
        )
    ).one()
    lo, hi = _positions(int(r.position), int(r.part), int(r.part_size))
    rows = await uow.conn.execute(
        sa.select(OrderCard.status, sa.func.count())
        .where(OrderCard.item_id == r.item_id, _in_part(lo, hi))
        .group_by(OrderCard.status)
    )
    return {str(status): int(n) for status, n in rows.all()}


async def _purchase(uow: UnitOfWork, purchase_id: str) -> Purchase:
    q = (
        sa.select(
            SupplierOrder,
            OrderItem.amount,
            OrderItem.fields,
            Order.test,
            Order.currency,
            Order.created_at.label("ordered_at"),
            ProductRow.supplier_product,
        )
        .join(OrderItem, OrderItem.id == SupplierOrder.item_id)
        .join(Order, Order.id == SupplierOrder.order_id)
        .join(ProductRow, ProductRow.id == OrderItem.product_id)
        .where(SupplierOrder.id == purchase_id)
    )
    r = (await uow.conn.execute(q)).first()
    if r is None:
        raise NotFound("no such purchase", param="purchase")
    counts = await _unit_counts(uow, purchase_id)
    body = {
        "amount": to_major(int(r.amount), currency(r.currency)),
        "referenceId": r.reference,
        # The units handed to this purchase (all of its part, once none is still pending).
        "quantity": counts.get(UnitStatus.ORDERED.value, 0),
        "productId": r.supplier_product,
        "requiredInfoFromUser": [{"id": k, "value": v} for k, v in sorted(dict(r.fields).items())],
        "isTest": bool(r.test),
    }
    ttl = timedelta(seconds=uow.rt.settings.order_hold_ttl_seconds)
    return Purchase(
        r.id,
        r.supplier_id,
        r.order_id,
        r.reference,
        PurchaseStatus(r.status),
        int(r.polls),
        body,
        r.ordered_at + ttl,
        counts.get(UnitStatus.PENDING.value, 0),
    )


async def advance(rt: Runtime, purchase_id: str, *, attempt: int = 1) -> Step:
    """One step of the purchase (see the module docstring). Raises the adapter's
    `UpstreamUnavailable` for the job to retry with its backoff."""
    async with rt.reader() as uow:
        p = await _purchase(uow, purchase_id)
        late = uow.now >= p.deadline
    if (early := await _not_yet(rt, p, late)) is not None:
        return early
    try:
        got = await _place_and_poll(rt, p, attempt)
    except SupplierPaused as exc:
        return Step(rt.settings.supplier_poll_max_seconds, str(exc))
    except UpstreamRefused as exc:
        await fail(rt, purchase_id, f"the supplier refused the order: {exc.message}")
        return DONE
    if got is not None and got.final is not None:
        await apply(rt, purchase_id, got)
        return DONE
    polls = await rt.transact(lambda uow: _polled(uow, purchase_id))
    s = rt.settings
    delay = poll_delay(polls - 1, base=s.supplier_poll_seconds, cap=s.supplier_poll_max_seconds)
    return Step(delay, f"the supplier is still making the cards ({got.status if got else 'not found'})")


async def _not_yet(rt: Runtime, p: Purchase, late: bool) -> Step | None:
    """The step when there is nothing to ask the upstream: done, too late, or not ready."""
    if p.status.final:
        return DONE
    if late:
        await fail(rt, p.id, "the supplier did not deliver before the order's funds reservation ran out")
        return DONE
    if p.status is PurchaseStatus.PLACING and p.waiting:
        # The batch that hands the rest of this part's units to it has not committed yet: the
        # upstream order is placed once, for all of them.
        return Step(rt.settings.supplier_poll_seconds, f"{p.waiting} card(s) of this part still to be ordered")
    if p.status is PurchaseStatus.PLACING and not p.body["quantity"]:
        await fail(rt, p.id, "nothing left to buy")
        return DONE
    return None


async def _place_and_poll(rt: Runtime, p: Purchase, attempt: int) -> UpstreamOrder | None:
    async def get(api: Any, token: str) -> UpstreamOrder | None:
        found: UpstreamOrder | None = await api.get_order(token, reference_id=p.reference)
        return found

    got = None
    if p.status is PurchaseStatus.PLACING and attempt > 1:
        # A try before this one may have placed it and died before recording so: ask first.
        got = await tokens.call(rt, p.supplier_id, get)
        if got is not None:
            found = got.id
            await rt.transact(lambda uow: _placed(uow, p.id, found))
    if p.status is PurchaseStatus.PLACING and got is None:
        upstream_id = await tokens.call(rt, p.supplier_id, lambda api, token: api.create_order(token, p.body))
        await rt.transact(lambda uow: _placed(uow, p.id, upstream_id))
    if got is None:
        got = await tokens.call(rt, p.supplier_id, get)
    return got


async def _placed(uow: UnitOfWork, purchase_id: str, upstream_id: str) -> None:
    await uow.conn.execute(
        sa.update(SupplierOrder)
        .where(SupplierOrder.id == purchase_id, SupplierOrder.status == PurchaseStatus.PLACING.value)
        .values(status=PurchaseStatus.PLACED.value, upstream_id=upstream_id[:200], updated_at=uow.now)
    )


async def _polled(uow: UnitOfWork, purchase_id: str) -> int:
    done = await uow.conn.execute(
        sa.update(SupplierOrder)
        .where(SupplierOrder.id == purchase_id)
        .values(polls=SupplierOrder.polls + 1, updated_at=uow.now)
        .returning(SupplierOrder.polls)
    )
    return int(done.scalar_one())


def _store(uow: UnitOfWork, unit_id: str, purchase_id: str, card: UpstreamCard) -> dict[str, Any]:
    keys = uow.rt.keys
    return {
        "order_card_id": unit_id,
        "supplier_order_id": purchase_id,
        "code_enc": keys.encrypt(card.code, aad=code_aad(unit_id)) if card.code else None,
        "pin_enc": keys.encrypt(card.pin, aad=pin_aad(unit_id)) if card.pin else None,
        "serial": (card.serial or None) and card.serial[:200],
        "link": (card.link or None) and card.link[:2000],
        "reward_id": (card.reward_id or None) and card.reward_id[:200],
        "transaction_id": (card.transaction_id or None) and card.transaction_id[:200],
        "expires_on": card.expiry_date,
        "instruction": card.instruction,
        "created_at": uow.now,
    }


async def _settle(
    uow: UnitOfWork, purchase_id: str, status: PurchaseStatus, cards: list[UpstreamCard | None] | None, error: str
) -> bool:
    """Mark the purchase `status` (once: a guarded update) and settle its units: with `cards`,
    the upstream's card for each unit in order (None: not made); without, every unit fails."""
    won = await uow.conn.execute(
        sa.update(SupplierOrder)
        .where(
            SupplierOrder.id == purchase_id,
            SupplierOrder.status.in_([PurchaseStatus.PLACING.value, PurchaseStatus.PLACED.value]),
        )
        .values(status=status.value, error=error[:500] or None, completed_at=uow.now, updated_at=uow.now)
        .returning(SupplierOrder.order_id, SupplierOrder.item_id, SupplierOrder.part, SupplierOrder.part_size)
    )
    row = won.first()
    if row is None:
        return False  # settled already (the webhook and a poll, one after the other)
    item = await uow.conn.execute(sa.select(OrderItem.position).where(OrderItem.id == row.item_id))
    lo, hi = _positions(item.scalar_one(), int(row.part), int(row.part_size))
    units = (
        await uow.conn.execute(
            sa.select(OrderCard.id)
            .where(
                OrderCard.item_id == row.item_id,
                OrderCard.status == UnitStatus.ORDERED.value,
                _in_part(lo, hi),
            )
            .order_by(OrderCard.position)
            .with_for_update()
        )
    ).scalars()
    unit_ids = list(units)
    made = cards if cards is not None else [None] * len(unit_ids)
    results: dict[str, str | None] = {}
    stored = []
    for unit_id, card in zip(unit_ids, made, strict=True):
        results[unit_id] = None if card is not None else (error or NOT_MADE)
        if card is not None:
            stored.append(_store(uow, unit_id, purchase_id, card))
    if stored:
        await uow.conn.execute(sa.insert(SuppliedCard), stored)
    if unit_ids:
        await fulfilment.settle_awaited(uow, row.order_id, results)
    return True


async def _units(uow: UnitOfWork, purchase_id: str) -> int:
    return (await _unit_counts(uow, purchase_id)).get(UnitStatus.ORDERED.value, 0)


async def apply(rt: Runtime, purchase_id: str, got: UpstreamOrder) -> bool:
    """Settle the purchase with the upstream's final answer (see `_settle`). False when it was
    settled already."""
    final = got.final
    if final is None:
        raise ValueError("the upstream order is not done")

    async def step(uow: UnitOfWork) -> bool:
        cards = outcomes(got, await _units(uow, purchase_id))
        error = "" if final is not PurchaseStatus.FAILED else "the supplier failed the order"
        return await _settle(uow, purchase_id, final, cards, error)

    return await rt.transact(step)


async def fail(rt: Runtime, purchase_id: str, reason: str) -> bool:
    """Fail every unit of the purchase with `reason` (their funds are released as the order ends)."""
    return await rt.transact(lambda uow: _settle(uow, purchase_id, PurchaseStatus.FAILED, None, reason))


async def receive(rt: Runtime, *, supplier: str, body: bytes, signature: str | None) -> bool:
    """The upstream's order webhook: verified with the supplier's webhook secret (its
    `X-Signature`, as the seed checks it), then settled like a poll's answer. True when it
    settled a purchase; False for an order that is not ours, not done, or settled already.
    `Unauthenticated` for a missing or wrong signature (or no secret set), `ValidationFailed`
    for a body that is not an order."""
    async with rt.reader() as uow:
        supplier_id, secret = await config.webhook_secret(uow, supplier)
    if secret is None or not signature or not x_signature_valid(secret, body, signature):
        raise Unauthenticated("the X-Signature does not match this supplier's webhook secret")
    try:
        got = parse_order(json.loads(body))
    except (ValueError, RecursionError):
        raise ValidationFailed("the body is not an order", param="body") from None
    if got.final is None:
        return False
    async with rt.reader() as uow:
        purchase_id = await uow.conn.scalar(
            sa.select(SupplierOrder.id).where(
                SupplierOrder.supplier_id == supplier_id, SupplierOrder.reference == got.reference_id
            )
        )
    if purchase_id is None:
        return False
    return await apply(rt, purchase_id, got)
