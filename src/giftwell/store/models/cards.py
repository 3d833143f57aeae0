"""Gift cards. The code is never stored in the clear: a keyed hash for lookup, AES-GCM to reveal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base


class Card(Base):
    __tablename__ = "cards"
    __table_args__ = (
        UniqueConstraint("account_id", "code_hash", name="uq_cards_account_code"),
        Index("ix_cards_account_created", "account_id", "created_at", "id"),
        Index("ix_cards_recipient_email", "account_id", "recipient_email"),
        Index("ix_cards_sender_email", "account_id", "sender_email"),
        Index("ix_cards_last4", "account_id", "code_last4"),
        Index("ix_cards_expiry", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    ledger_account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    code_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    code_last4: Mapped[str] = mapped_column(String(4))
    pin_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    serial: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    initial_amount: Mapped[int]
    status: Mapped[str] = mapped_column(String(10))
    status_reason: Mapped[str | None] = mapped_column(String(500))
    activated_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(10))
    test: Mapped[bool] = mapped_column(server_default=false())
    sender_name: Mapped[str | None] = mapped_column(String(200))
    sender_email: Mapped[str | None] = mapped_column(String(320))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    recipient_email: Mapped[str | None] = mapped_column(String(320))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BulkIssue(Base):
    """A run of `giftwell cards issue-bulk`: `issued` of `count` cards made so far. Each batch of
    cards and its step of `issued` commit together, so a restart continues from `issued`."""

    __tablename__ = "bulk_issues"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40), ForeignKey("accounts.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    count: Mapped[int]
    issued: Mapped[int]
    product_id: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
