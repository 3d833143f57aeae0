"""B2B orders: the order, its items, and one unit per card to make."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base


class Order(Base):
    """An order. `hold_transfer_id` is the pending transfer reserving `total_price` on the buyer's
    funding account; `charged` is what its issued cards have captured so far (less refunds of
    cancelled ones), kept in the same transactions as the captures."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("account_id", "reference", name="uq_orders_account_reference"),
        Index("ix_orders_account_created", "account_id", "created_at", "id"),
        Index("ix_orders_open", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    reference: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12))
    mode: Mapped[str] = mapped_column(String(6))
    test: Mapped[bool]
    currency: Mapped[str] = mapped_column(String(3))
    card_count: Mapped[int] = mapped_column(Integer)
    total_face_value: Mapped[int]
    total_price: Mapped[int]
    charged: Mapped[int] = mapped_column(server_default="0")
    refunded: Mapped[int] = mapped_column(server_default="0")
    funding_account_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_accounts.id"))
    hold_transfer_id: Mapped[str | None] = mapped_column(ForeignKey("transfers.id"))
    # The source the order pays from (its ledger account is `funding_account_id`).
    funding_source_id: Mapped[str | None] = mapped_column(ForeignKey("funding_sources.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default="{}")
    # What a vendor dialect keeps of the request beyond what the core uses (JSON, its own shape),
    # and the request's fingerprint: the same reference again is a replay only with the same one.
    vendor_data: Mapped[dict[str, Any] | None]
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (Index("ix_order_items_order", "order_id", "position"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    position: Mapped[int] = mapped_column(Integer)
    # None for a choice item: its units are choice reward links (`choice`), not cards.
    product_id: Mapped[str | None] = mapped_column(ForeignKey("products.id"))
    amount: Mapped[int]
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[int]
    country: Mapped[str | None] = mapped_column(String(2))
    recipient: Mapped[dict[str, Any]]
    sender: Mapped[dict[str, Any]]
    message: Mapped[str | None] = mapped_column(String(500))
    fields: Mapped[dict[str, Any]]
    delivery: Mapped[dict[str, Any] | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default="{}")
    # One of the product's designs (`products.designs[].id`), shown on the card's messages and page.
    design_id: Mapped[str | None] = mapped_column(String(64))
    vendor_data: Mapped[dict[str, Any] | None]
    # A choice item: `{"products": [...], "expires_at": iso}`, the eligible products fixed when
    # the order was placed (see services/delivery/choice.py).
    choice: Mapped[dict[str, Any] | None]


class OrderMetadata(Base):
    """One key and value of an order's (`item_id` empty) or an item's metadata, so a search by
    exact key and value is an indexed lookup on either database. Written with the order."""

    __tablename__ = "order_metadata"
    __table_args__ = (Index("ix_order_metadata_lookup", "account_id", "key", "value", "order_id"),)

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    value: Mapped[str] = mapped_column(String(500))


class OrderCard(Base):
    """One card to make for an item: `pending` until a fulfilment batch issues it (`issued`, with
    `card_id`) or gives up on it (`failed`), both in the batch's one transaction.

    `supply_key` (item id and index) is the idempotency key a supplier is asked with, so a retry
    never makes a second card for the same unit. `link_token_hash` is the keyed hash of the
    reward-link token (the token itself is derived again when shown, never stored).
    """

    __tablename__ = "order_cards"
    __table_args__ = (
        UniqueConstraint("supply_key", name="uq_order_cards_supply_key"),
        UniqueConstraint("link_token_hash", name="uq_order_cards_link_token_hash"),
        Index("ix_order_cards_order", "order_id", "status", "position"),
        # The buyer's pages of an order's cards (`GET /v1/orders/{id}/cards`), in position order.
        Index("ix_order_cards_order_position", "order_id", "position"),
        CheckConstraint("reveal_count >= 0", name="reveal_count_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    item_id: Mapped[str] = mapped_column(ForeignKey("order_items.id"))
    position: Mapped[int] = mapped_column(Integer)
    supply_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10))
    issuer_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    card_id: Mapped[str | None] = mapped_column(ForeignKey("cards.id"), unique=True)
    price: Mapped[int]
    charge_transfer_id: Mapped[str | None] = mapped_column(ForeignKey("transfers.id"))
    link_token_hash: Mapped[str] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(String(500))
    reveal_count: Mapped[int] = mapped_column(Integer, server_default="0")
    last_revealed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
