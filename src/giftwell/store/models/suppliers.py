"""Upstream suppliers, what we buy from them (one purchase per order item), and the cards they made.

Secrets and codes are never stored in the clear. A supplier's client secret, refresh and access
tokens and webhook secret are AES-GCM ciphertext under the HKDF subkey
`supplier-secret-encryption`, each with the supplier id and its own name as associated data. A
supplied card's code and PIN are encrypted like our own cards' (`card-code-encryption`), with
the order card's id as associated data.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base


class Supplier(Base):
    """An upstream API. `token_version` counts rotations: a worker that saw version n fail
    refreshes only if the row still says n, so a 401 seen by two workers costs one refresh."""

    __tablename__ = "suppliers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    base_url: Mapped[str] = mapped_column(String(2000))
    client_id: Mapped[str] = mapped_column(String(200))
    client_secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # NULL: the supplier is reached with the client-credentials grant.
    refresh_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_expires_at: Mapped[datetime | None]
    token_version: Mapped[int] = mapped_column(Integer, server_default="0")
    webhook_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The most cards one upstream order may ask for: a larger item is bought in several orders.
    max_quantity: Mapped[int] = mapped_column(Integer, server_default="25")
    status: Mapped[str] = mapped_column(String(10))
    paused_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SupplierOrder(Base):
    """One upstream order for an order item, or for one `part` of it (the units of index
    `(part - 1) * part_size` onwards, at most `part_size` of them, when the item is larger than
    the supplier's `max_quantity`): its `reference` (derived from the item and the part, so a
    retry never buys twice), the upstream's order id once it answered, and the purchase's status."""

    __tablename__ = "supplier_orders"
    __table_args__ = (
        UniqueConstraint("supplier_id", "reference", name="uq_supplier_orders_reference"),
        UniqueConstraint("item_id", "part", name="uq_supplier_orders_item_part"),
        Index("ix_supplier_orders_order", "order_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    item_id: Mapped[str] = mapped_column(ForeignKey("order_items.id"))
    part: Mapped[int] = mapped_column(Integer, server_default="1")
    part_size: Mapped[int] = mapped_column(Integer, server_default="10000")
    reference: Mapped[str] = mapped_column(String(200))
    upstream_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))
    error: Mapped[str | None] = mapped_column(String(500))
    polls: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class SuppliedCard(Base):
    """A card an upstream made for one of our order cards: what it told us about it."""

    __tablename__ = "supplied_cards"

    order_card_id: Mapped[str] = mapped_column(ForeignKey("order_cards.id"), primary_key=True)
    supplier_order_id: Mapped[str] = mapped_column(ForeignKey("supplier_orders.id"))
    code_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    pin_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    serial: Mapped[str | None] = mapped_column(String(200))
    link: Mapped[str | None] = mapped_column(String(2000))
    reward_id: Mapped[str | None] = mapped_column(String(200))
    transaction_id: Mapped[str | None] = mapped_column(String(200))
    expires_on: Mapped[date | None] = mapped_column(Date)
    instruction: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
