"""Funding sources (how a buyer pays: a prepaid balance or a credit line, each one guarded ledger
account) and receipts (one per posted money movement on a source)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base, JsonType


class FundingSource(Base):
    """One source per account, kind and currency. `credit_limit` is set for a credit line only;
    the ledger holds it too (see domain/funding.py), and `ledger verify` checks that they agree.
    At most one source per account and currency is the default (`is_default`); without one, the
    prepaid balance is."""

    __tablename__ = "funding_sources"
    __table_args__ = (
        UniqueConstraint("account_id", "kind", "currency", name="uq_funding_sources_account_kind_currency"),
        Index(
            "uq_funding_sources_default",
            "account_id",
            "currency",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(12))
    currency: Mapped[str] = mapped_column(String(3))
    ledger_account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"), unique=True)
    credit_limit: Mapped[int | None]
    is_default: Mapped[bool] = mapped_column(server_default=false())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Receipt(Base):
    """The receipt of one posted transfer on a funding source: a charge (cards issued), a refund
    (cards cancelled), a settlement (a credit line paid) or a top-up. `lines` list what it paid
    for; they sum to `amount`."""

    __tablename__ = "receipts"
    __table_args__ = (
        Index("ix_receipts_account_created", "account_id", "created_at", "id"),
        Index("ix_receipts_order", "order_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    funding_source_id: Mapped[str] = mapped_column(ForeignKey("funding_sources.id"))
    kind: Mapped[str] = mapped_column(String(12))
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), unique=True)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    reference: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
