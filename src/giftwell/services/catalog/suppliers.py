"""Suppliers: who makes the card for an order unit.

A supplier issues one card for one unit, idempotently by `SupplyRequest.key` (the order item's
id and the unit's index): asked twice with one key it returns the same card. The house supplier
issues a card in Giftwell's own ledger, in the caller's transaction, from the product's issuing
account; an upstream (HTTP) supplier will call a vendor with the key as its idempotency key.

A supplier that cannot make a card raises `SupplyFailed`; the unit is then marked failed and
its price released. Any other exception aborts the batch (nothing of it commits) so it is tried
again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa

from giftwell.domain import codes
from giftwell.domain.cards import CardSource, Party
from giftwell.domain.errors import ValidationFailed
from giftwell.domain.expiry_policy import ExpiryPolicy
from giftwell.services.cards import issuing
from giftwell.store.models import OrderCard
from giftwell.store.uow import UnitOfWork


class SupplyFailed(Exception):
    """The supplier will not make this card (out of stock, refused upstream): the unit fails."""


@dataclass(frozen=True, slots=True)
class SupplyRequest:
    key: str
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


class Supplier(Protocol):
    async def issue(self, uow: UnitOfWork, req: SupplyRequest) -> SuppliedCard: ...


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


# Suppliers by the name a product gives in `supplier`. The house supplier is built in; an entry
# point (or a test, with `monkeypatch.setitem`) adds others here.
REGISTRY: dict[str, Supplier] = {"house": HouseSupplier()}


def get(name: str, *, param: str = "supplier") -> Supplier:
    """The supplier called `name`, or a validation error naming `param`."""
    found = REGISTRY.get(name)
    if found is None:
        raise ValidationFailed(f"unknown supplier {name!r}; known: {', '.join(sorted(REGISTRY))}", param=param)
    return found
