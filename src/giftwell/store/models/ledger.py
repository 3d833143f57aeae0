"""Ledger accounts and transfers (the double-entry ledger)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.domain.ledger import PER_OBJECT_KINDS_SQL
from giftwell.store.models.base import Base


class LedgerAccount(Base):
    """One balance. Guarded accounts (cards, funding) keep `balance` and `pending_out` as running
    totals that may never go negative; system accounts leave `balance` NULL (their balance is the
    sum of their transfers) so that no redemption ever waits on a shared system row.
    """

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("balance IS NULL OR balance - pending_out >= 0", name="available_not_negative"),
        CheckConstraint("pending_out >= 0", name="pending_not_negative"),
        Index(
            "uq_ledger_accounts_system",
            "account_id",
            "kind",
            "currency",
            unique=True,
            sqlite_where=text(PER_OBJECT_KINDS_SQL),
            postgresql_where=text(PER_OBJECT_KINDS_SQL),
        ),
        # The card query's balance filters and sort, within the account.
        Index("ix_ledger_accounts_q_balance", "account_id", "kind", "balance"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[int | None]
    pending_out: Mapped[int] = mapped_column(server_default="0")
    created_at: Mapped[datetime]


class Transfer(Base):
    """An immutable movement of `amount` from `debit_account_id` to `credit_account_id`.

    A hold is a transfer in status `pending`; it is resolved exactly once, to `posted` (with the
    captured amount, at most `hold_amount`) or `voided`. Posted and voided rows never change again,
    except `refunded_amount`, the running total of refunds written against a redemption.
    """

    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="refund_within_amount"),
        Index("ix_transfers_debit", "debit_account_id", "created_at"),
        Index("ix_transfers_credit", "credit_account_id", "created_at"),
        Index("ix_transfers_account", "account_id", "created_at"),
        Index(
            "ix_transfers_pending_expiry",
            "expires_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    debit_account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"))
    card_id: Mapped[str | None] = mapped_column(String(40))
    counterparty_card_id: Mapped[str | None] = mapped_column(String(40))
    debit_balance_after: Mapped[int | None]
    credit_balance_after: Mapped[int | None]
    hold_amount: Mapped[int | None]
    expires_at: Mapped[datetime | None]
    refund_of: Mapped[str | None] = mapped_column(ForeignKey("transfers.id"))
    refunded_amount: Mapped[int] = mapped_column(server_default="0")
    reference: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    posted_at: Mapped[datetime | None]
