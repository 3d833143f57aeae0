"""Choice reward links: a value an order item gave its recipient to spend on one or more of a set
of products, and the picks made from it (each a card)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base, JsonType


class ChoiceLink(Base):
    """One link per order unit of a choice item. The token is derived from the unit id
    (`Keys.link_token`), so only its keyed hash is stored. `ledger_account_id` holds the unspent
    value (a guarded account of kind `choice_link`); `initial_balance` is what the order gave.
    `products` is the eligible list (JSON), fixed when the order was placed."""

    __tablename__ = "choice_links"
    __table_args__ = (
        Index("ix_choice_links_order", "order_id", "position"),
        Index("ix_choice_links_due", "status", "expires_at"),
        CheckConstraint("open_count >= 0", name="open_count_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    item_id: Mapped[str] = mapped_column(ForeignKey("order_items.id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("order_cards.id"), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    ledger_account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"))
    currency: Mapped[str] = mapped_column(String(3))
    country: Mapped[str | None] = mapped_column(String(2))
    initial_balance: Mapped[int]
    products: Mapped[list[Any]] = mapped_column(JsonType)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(10))
    test: Mapped[bool]
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    first_opened_at: Mapped[datetime | None]
    last_opened_at: Mapped[datetime | None]
    open_count: Mapped[int] = mapped_column(Integer, server_default="0")
    expired_at: Mapped[datetime | None]


class ChoicePick(Base):
    """One pick: `pick_key` is the form's key (the number of picks the page was shown with), unique
    per link, so a double submit of one page, from any tab, makes one card."""

    __tablename__ = "choice_picks"
    __table_args__ = (UniqueConstraint("link_id", "pick_key", name="uq_choice_picks_link_key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("choice_links.id"))
    pick_key: Mapped[str] = mapped_column(String(40))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    amount: Mapped[int]
    card_id: Mapped[str] = mapped_column(ForeignKey("cards.id"), unique=True)
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"))
    created_at: Mapped[datetime]
