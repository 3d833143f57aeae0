"""Suppliers: who makes the card for an order unit.

A supplier issues one card for one unit, idempotently by `SupplyRequest.key` (the order item's
id and the unit's index): asked twice with one key it returns the same card. The house supplier
issues a card in Giftwell's own ledger, in the caller's transaction, from the product's issuing
account.

An upstream supplier (`giftwell suppliers add`: another WizzGift-compatible API) cannot make a
card inside a transaction: it answers `AWAITING`, and in the batch's same transaction records
the purchase of the unit's part of the item (`supplier_orders`, one per item, or per part of at
most the supplier's `max_quantity` cards, keyed by the item and part) and enqueues the job
that buys it (`SUPPLIER_ORDER_JOB`, handled by `orders.upstream`), which settles the units once
the upstream has made the cards. A batch rolled back records and enqueues nothing.

A supplier that cannot make a card raises `SupplyFailed`; the unit is then marked failed and
its price released. Any other exception aborts the batch (nothing of it commits) so it is tried
again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from giftwell.domain import codes
from giftwell.domain.cards import CardSource, Party
from giftwell.domain.errors import ValidationFailed
from giftwell.domain.expiry_policy import ExpiryPolicy
from giftwell.domain.ids import new_id
from giftwell.domain.suppliers import PurchaseStatus, part_of, reference_for
from giftwell.services.cards import issuing
from giftwell.services.queue import jobs
from giftwell.store.models import OrderCard, OrderItem, Supplier, SupplierOrder
from giftwell.store.uow import UnitOfWork

SUPPLIER_ORDER_JOB = "supplier.order"
# The purchase job polls until the upstream is done (up to the order's funds reservation, 30
# days by default): many attempts, each a poll.
SUPPLIER_ORDER_ATTEMPTS = 10_000


class SupplyFailed(Exception):
    """The supplier will not make this card (out of stock, refused upstream): the unit fails."""


@dataclass(frozen=True, slots=True)
class SupplyRequest:
    key: str
    order_id: str
    item_id: str
    product_id: str
    issuer_account_id: str
    currency: str
    amount: int
    index: int
    test: bool
    code_format: codes.CodeFormat
    expires_at: datetime | None
    sender: Party
    recipient: Party
    metadata: dict[str, str]
    expiry_policy: ExpiryPolicy | None = None  # the product's: checked at issue


@dataclass(frozen=True, slots=True)
class SuppliedCard:
    """The card made for a unit: its id in the issuer's ledger, and its code and PIN."""

    card_id: str
    issuer_account_id: str


class Awaiting(enum.Enum):
    """The unit's card will come later: an upstream is asked for it in the background."""

    AWAITING = "awaiting"


AWAITING = Awaiting.AWAITING


class CardSupplier(Protocol):
    async def issue(self, uow: UnitOfWork, req: SupplyRequest) -> SuppliedCard | Awaiting: ...


class HouseSupplier:
    """Cards in Giftwell's own ledger, issued (and valued from the issuer's issuance account) in
    the caller's transaction. Idempotent: a key whose unit already has a card returns that card;
    since the card and the unit's `card_id` are written in one transaction, a crash leaves both
    or neither."""

    async def issue(self, uow: UnitOfWork, req: SupplyRequest) -> SuppliedCard:
        done = await uow.conn.execute(
            sa.select(OrderCard.card_id).where(OrderCard.supply_key == req.key, OrderCard.card_id.is_not(None))
        )
        card_id = done.scalar_one_or_none()
        if card_id is not None:
            return SuppliedCard(card_id, req.issuer_account_id)
        issued = await issuing.issue(
            uow,
            account_id=req.issuer_account_id,
            currency=req.currency,
            amount=req.amount,
            code_format=req.code_format,
            expires_at=req.expires_at,
            sender=req.sender,
            recipient=req.recipient,
            metadata=req.metadata,
            source=CardSource.ORDER,
            test=req.test,
            product_policy=req.expiry_policy,
        )
        return SuppliedCard(issued.card.id, req.issuer_account_id)


class UpstreamSupplier:
    """Cards bought from an upstream WizzGift-compatible API (a `suppliers` row): the batch only
    records the purchase of the unit's part of the item and enqueues its job, once per part
    whatever the number of its units or batches (the purchase's unique item and part, the job's
    dedupe key). An item of more cards than the supplier's `max_quantity` is bought in parts of
    that size, each its own upstream order with its own reference; the part size is fixed by the
    item's first purchase, so an operator changing `max_quantity` meanwhile splits no item twice."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def issue(self, uow: UnitOfWork, req: SupplyRequest) -> Awaiting:
        supplier = (
            await uow.conn.execute(sa.select(Supplier.id, Supplier.max_quantity).where(Supplier.name == self.name))
        ).first()
        if supplier is None:
            raise SupplyFailed(f"supplier {self.name!r} is not configured")
        quantity = (
            await uow.conn.execute(sa.select(OrderItem.quantity).where(OrderItem.id == req.item_id))
        ).scalar_one()
        size = await uow.conn.scalar(
            sa.select(SupplierOrder.part_size).where(SupplierOrder.item_id == req.item_id).limit(1)
        )
        part = part_of(req.index, item_quantity=quantity, size=int(size or supplier.max_quantity))
        insert = postgresql.insert(SupplierOrder) if uow.dialect == "postgresql" else sqlite.insert(SupplierOrder)
        stmt = insert.values(
            id=new_id("so"),
            supplier_id=supplier.id,
            order_id=req.order_id,
            item_id=req.item_id,
            part=part.number,
            part_size=part.size,
            reference=reference_for(req.item_id, part.number, part.parts),
            status=PurchaseStatus.PLACING.value,
            polls=0,
            created_at=uow.now,
            updated_at=uow.now,
        ).on_conflict_do_nothing(index_elements=["item_id", "part"])
        await uow.conn.execute(stmt)
        existing = await uow.conn.scalar(
            sa.select(SupplierOrder.id).where(SupplierOrder.item_id == req.item_id, SupplierOrder.part == part.number)
        )
        dedupe = f"{SUPPLIER_ORDER_JOB}:{req.item_id}" + (f":{part.number}" if part.parts > 1 else "")
        await jobs.enqueue(
            uow, SUPPLIER_ORDER_JOB, {"purchase": existing}, dedupe_key=dedupe, max_attempts=SUPPLIER_ORDER_ATTEMPTS
        )
        return AWAITING


# Suppliers by the name a product gives in `supplier`. The house supplier is built in; an entry
# point (or a test, with `monkeypatch.setitem`) adds others here. Any other name is an upstream
# supplier's, checked against the `suppliers` table when a product names it (`check`).
REGISTRY: dict[str, CardSupplier] = {"house": HouseSupplier()}


def in_house(name: str) -> bool:
    """Whether `name` is the built-in house supplier itself (not a wrapper or an upstream one):
    fulfilment then issues a batch's cards together (`orders.house_batch`), with the same rows."""
    return type(REGISTRY.get(name)) is HouseSupplier


def get(name: str) -> CardSupplier:
    """The supplier called `name`: a built-in one, or else the upstream supplier of that name."""
    return REGISTRY.get(name) or UpstreamSupplier(name)


async def check(uow: UnitOfWork, name: str, *, param: str = "supplier") -> bool:
    """Whether `name` is an upstream supplier (True) or a built-in one (False); a validation
    error naming `param` when it is neither."""
    if name in REGISTRY:
        return False
    if await uow.conn.scalar(sa.select(Supplier.id).where(Supplier.name == name)) is not None:
        return True
    known = ", ".join(sorted(REGISTRY))
    raise ValidationFailed(
        f"unknown supplier {name!r}; known: {known}, or an upstream one (`giftwell suppliers list`)", param=param
    )
