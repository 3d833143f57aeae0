"""Webhook endpoints, one delivery per (event, endpoint), and the log of every attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base, JsonType


class WebhookEndpoint(Base):
    """An account's receiver. The secrets are AES-GCM ciphertext (HKDF subkey
    `webhook-secret-encryption`, the endpoint id as associated data); the previous one is kept
    until `previous_secret_expires_at`, the overlap of a rotation. `failing_since` is the first
    failed attempt since the last success: past `webhook_disable_after_days` the endpoint is
    disabled. Deleted endpoints stay (`deleted_at`) so their deliveries and attempts keep their
    endpoint."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_account", "account_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500))
    events: Mapped[list[str]] = mapped_column(JsonType)
    format: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool]
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    disabled_at: Mapped[datetime | None]
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None]
    secret_rotated_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event for one endpoint: the message whose `webhook-id` (the event id) stays the same on
    every attempt and every replay. `generation` counts replays: each has its own job, and a job of
    an older generation finds itself superseded and stops."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
        Index("ix_webhook_deliveries_endpoint_status", "endpoint_id", "status", "event_created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    # Copied from the event: the range of a replay of failed deliveries is read by this index.
    event_created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12))
    generation: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    last_attempt_at: Mapped[datetime | None]
    last_response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookAttempt(Base):
    """One HTTP attempt: outcome, status code, duration, error, the first bytes of the answer.
    Keyed by (job, job attempt) so a job re-run after a crash never logs one attempt twice."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        UniqueConstraint("job_id", "job_attempt", name="uq_webhook_attempts_job_attempt"),
        Index("ix_webhook_attempts_endpoint", "endpoint_id", "started_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"))
    event_id: Mapped[str] = mapped_column(String(40))
    job_id: Mapped[str] = mapped_column(String(40))
    job_attempt: Mapped[int] = mapped_column(Integer)
    generation: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    response_status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    # When the next attempt was scheduled for, if one was.
    retry_at: Mapped[datetime | None]
