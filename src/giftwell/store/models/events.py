"""Domain events, written in the same transaction as the change they record (an audit trail
now; the source of webhooks later)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_account_created", "account_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    type: Mapped[str] = mapped_column(String(60))
    subject_id: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
