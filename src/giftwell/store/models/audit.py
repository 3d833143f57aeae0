"""The audit log: one row per administrative action, append-only (triggers on both databases
refuse UPDATE and DELETE; see migration 0012_ops_audit_events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_account_at", "account_id", "occurred_at", "id"),
        Index("ix_audit_events_at", "occurred_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    occurred_at: Mapped[datetime]
    # The account whose data changed; None for what belongs to no account (a key rotation).
    account_id: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(100))
    # Who: "token" (an API caller), "user" (a dashboard user), "cli" (an operator at a shell),
    # "system" (the worker, the sweeper); the actor's id and account; where from.
    actor_type: Mapped[str] = mapped_column(String(12))
    actor_id: Mapped[str | None] = mapped_column(String(200))
    actor_account_id: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(200))
    # What changed: the new values, or {field: [before, after]} for a change. Never a secret.
    changes: Mapped[dict[str, Any]]
