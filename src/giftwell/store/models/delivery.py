"""Deliveries (one message carrying a card's reward link to one address) and reward links (one
per card: the page a recipient opens, with its first and last open and its reveals)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, LargeBinary, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base


class RewardLink(Base):
    """A card's reward link. The token is a bearer secret: stored as a keyed hash (for the page's
    lookup) and AES-GCM ciphertext (to put it in the next message), never in the clear.

    `first_opened_at` is written once, by a guarded `UPDATE ... WHERE first_opened_at IS NULL`;
    `last_sent_at` is the per-card resend throttle, taken by a guarded update as well."""

    __tablename__ = "reward_links"
    __table_args__ = (CheckConstraint("open_count >= 0 AND reveal_count >= 0", name="counts_not_negative"),)

    card_id: Mapped[str] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    locale: Mapped[str | None] = mapped_column(String(35))
    created_at: Mapped[datetime]
    first_opened_at: Mapped[datetime | None]
    last_opened_at: Mapped[datetime | None]
    open_count: Mapped[int] = mapped_column(Integer, server_default="0")
    first_revealed_at: Mapped[datetime | None]
    last_revealed_at: Mapped[datetime | None]
    reveal_count: Mapped[int] = mapped_column(Integer, server_default="0")
    last_sent_at: Mapped[datetime | None]


class Delivery(Base):
    """One message. `account_id` is the account that asked for it (the buyer, for an order's
    cards), `card_account_id` the card's own; the events go to the first, the card's API to the
    second."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_card", "card_id", "created_at", "id"),
        Index("ix_deliveries_status", "status", "scheduled_at"),
        Index("ix_deliveries_recipient", "card_account_id", "to_address"),
        Index("ix_deliveries_q_recipient_name", "card_account_id", func.lower(Column("recipient_name"))),
        Index("ix_deliveries_q_sender_name", "card_account_id", func.lower(Column("sender_name"))),
        Index("ix_deliveries_choice_link", "choice_link_id", "created_at"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    card_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    # None for a message carrying a choice reward link (`choice_link_id`) rather than a card's.
    card_id: Mapped[str | None] = mapped_column(ForeignKey("cards.id"))
    choice_link_id: Mapped[str | None] = mapped_column(ForeignKey("choice_links.id"))
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"))
    source: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(5))
    to: Mapped[str] = mapped_column("to_address", String(320))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    sender_name: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2000))
    locale: Mapped[str | None] = mapped_column(String(35))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    reason: Mapped[str | None] = mapped_column(String(1000))
    provider_id: Mapped[str | None] = mapped_column(String(200))
    job_id: Mapped[str | None] = mapped_column(String(40))
    scheduled_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
