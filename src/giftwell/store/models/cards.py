"""Gift cards. The code is never stored in the clear: a keyed hash for lookup, AES-GCM to reveal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, false, func, text
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base


class Card(Base):
    __tablename__ = "cards"
    __table_args__ = (
        UniqueConstraint("account_id", "code_hash", name="uq_cards_account_code"),
        Index("ix_cards_account_created", "account_id", "created_at", "id"),
        Index("ix_cards_recipient_email", "account_id", "recipient_email"),
        Index("ix_cards_sender_email", "account_id", "sender_email"),
        Index("ix_cards_expiry", "status", "expires_at"),
        # The few test cards of an account, which the reports leave out (without it, a report
        # over a million cards scans them all to find none).
        Index(
            "ix_cards_test",
            "account_id",
            sqlite_where=text("test IS 1"),
            postgresql_where=text("test IS true"),
        ),
        # The card query's filters and sorts (services/cards/query.py): each one indexed, within
        # the account, with the id as the tiebreak of its sort.
        Index("ix_cards_q_last4", "account_id", "code_last4", "id"),  # also the lookups by last 4
        Index("ix_cards_q_status", "account_id", "status", "id"),
        Index("ix_cards_q_currency", "account_id", "currency", "id"),
        Index("ix_cards_q_initial", "account_id", "initial_amount", "id"),
        Index("ix_cards_q_updated", "account_id", "updated_at", "id"),
        Index("ix_cards_q_expires", "account_id", "expires_at", "id"),
        Index("ix_cards_q_disabled", "account_id", "disabled_at", "id"),
        Index("ix_cards_q_source", "account_id", "source", "id"),
        Index("ix_cards_q_id", "account_id", "id"),
        Index("ix_cards_q_recipient_name", "account_id", func.lower(Column("recipient_name"))),
        Index("ix_cards_q_sender_name", "account_id", func.lower(Column("sender_name"))),
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
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CardMetadata(Base):
    """One key and its value of a card's metadata, so a filter by key and value (or a value's
    start) is an indexed lookup on either database. Written with the card; string values only
    (others as their JSON text)."""

    __tablename__ = "card_metadata"
    __table_args__ = (Index("ix_card_metadata_lookup", "account_id", "key", "value", "card_id"),)

    card_id: Mapped[str] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    value: Mapped[str] = mapped_column(String(500))


class CardSearch(Base):
    """A card's searchable text (`services.cards.text`): its names, emails, code suffix and
    metadata values and those of its email deliveries, lowercased, one per line. Searched by
    substring through a trigram index: PostgreSQL's `pg_trgm` GIN index `ix_card_search_trgm`,
    SQLite's FTS5 table `card_search_fts` (tokenizer `trigram`, kept in step by triggers). Both
    are made by the migration `i14_card_search`, not from these models."""

    __tablename__ = "card_search"

    card_id: Mapped[str] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    body: Mapped[str] = mapped_column(Text)


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
