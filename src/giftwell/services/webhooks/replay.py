"""Replays and the attempt log: send an event again (same `webhook-id`, so a receiver that
de-duplicates on it stays correct), recover an endpoint's failed deliveries in a time range, and
list an endpoint's attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain.errors import InvalidState, ValidationFailed
from giftwell.domain.webhooks import DeliveryStatus, subscribed
from giftwell.services import events
from giftwell.services.events import access_event
from giftwell.services.pagination import Page, check_limit, newest_first, paginate
from giftwell.services.webhooks import endpoints as webhook_endpoints
from giftwell.store.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from giftwell.store.uow import UnitOfWork

MAX_RECOVER = 1000


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: str
    event: str
    endpoint: str
    status: str
    generation: int


@dataclass(frozen=True, slots=True)
class Recovered:
    replayed: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class AttemptView:
    id: str
    event: str
    delivery: str
    endpoint: str
    attempt: int
    generation: int
    status: str
    response_status: int | None
    duration_ms: int
    error: str | None
    response_body: str | None
    started_at: datetime
    retry_at: datetime | None


async def _resend(uow: UnitOfWork, delivery: Any) -> DeliveryView:
    """The delivery's next generation: pending, due now, its own job. The job of the generation
    before, if still queued, finds itself superseded and stops."""
    generation = int(delivery.generation) + 1
    await uow.conn.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id)
        .values(
            status=DeliveryStatus.PENDING.value,
            generation=generation,
            next_attempt_at=uow.now,
            updated_at=uow.now,
        )
    )
    await events.schedule(uow, delivery_id=delivery.id, generation=generation, account_id=delivery.account_id)
    return DeliveryView(delivery.id, delivery.event_id, delivery.endpoint_id, DeliveryStatus.PENDING.value, generation)


async def replay_event(
    uow: UnitOfWork, *, account_id: str, event_id: str, endpoint_id: str | None = None
) -> list[DeliveryView]:
    """Send an event again to every enabled endpoint that subscribes to it now (or to the one
    named), whatever became of earlier attempts. Same `webhook-id` as the first time."""
    event = await access_event(uow, account_id=account_id, event_id=event_id)
    if endpoint_id is not None:
        named = await webhook_endpoints.access_endpoint(uow, account_id=account_id, endpoint_id=endpoint_id)
        if not named.enabled:
            raise InvalidState("the endpoint is disabled; enable it first", param="endpoint", state="disabled")
    q = sa.select(WebhookEndpoint).where(
        WebhookEndpoint.account_id == account_id,
        WebhookEndpoint.deleted_at.is_(None),
        WebhookEndpoint.enabled.is_(True),
    )
    if endpoint_id is not None:
        q = q.where(WebhookEndpoint.id == endpoint_id)
    out: list[DeliveryView] = []
    for ep in (await uow.conn.execute(q.order_by(WebhookEndpoint.created_at, WebhookEndpoint.id))).all():
        if not subscribed(ep.events, ep.format, event.type):
            continue
        existing = (
            await uow.conn.execute(
                sa.select(WebhookDelivery).where(
                    WebhookDelivery.event_id == event.id, WebhookDelivery.endpoint_id == ep.id
                )
            )
        ).first()
        if existing is None:
            delivery_id = await events.create_delivery(
                uow,
                event_id=event.id,
                endpoint_id=ep.id,
                account_id=account_id,
                event_created_at=event.created_at,
                enabled=True,
            )
            out.append(DeliveryView(delivery_id, event.id, ep.id, DeliveryStatus.PENDING.value, 0))
        else:
            out.append(await _resend(uow, existing))
    return out


async def recover(
    uow: UnitOfWork, *, account_id: str, endpoint_id: str, since: datetime, until: datetime | None = None
) -> Recovered:
    """Send again every event whose delivery to this endpoint failed, among the events created
    in [since, until] (until: now), oldest first, at most MAX_RECOVER per call (`has_more` says
    to call again: the ones sent are pending now, so the next call takes the next ones)."""
    until = until or uow.now
    if since > until:
        raise ValidationFailed("since must not be after until", param="since")
    endpoint = await webhook_endpoints.access_endpoint(uow, account_id=account_id, endpoint_id=endpoint_id)
    if not endpoint.enabled:
        raise InvalidState("the endpoint is disabled; enable it first", param="endpoint", state="disabled")
    rows = (
        await uow.conn.execute(
            sa.select(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.status == DeliveryStatus.FAILED.value,
                WebhookDelivery.event_created_at >= since,
                WebhookDelivery.event_created_at <= until,
            )
            .order_by(WebhookDelivery.event_created_at, WebhookDelivery.id)
            .limit(MAX_RECOVER + 1)
        )
    ).all()
    for r in rows[:MAX_RECOVER]:
        await _resend(uow, r)
    return Recovered(min(len(rows), MAX_RECOVER), len(rows) > MAX_RECOVER)


async def list_attempts(
    uow: UnitOfWork,
    *,
    account_id: str,
    endpoint_id: str,
    event_id: str | None = None,
    status: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[AttemptView]:
    """The endpoint's attempts, newest first (optionally for one event, or one outcome)."""
    check_limit(limit)
    endpoint = await webhook_endpoints.access_endpoint(uow, account_id=account_id, endpoint_id=endpoint_id)
    q = sa.select(WebhookAttempt).where(
        WebhookAttempt.endpoint_id == endpoint.id, WebhookAttempt.account_id == account_id
    )
    if event_id is not None:
        q = q.where(WebhookAttempt.event_id == event_id)
    if status is not None:
        if status not in ("succeeded", "failed"):
            raise ValidationFailed("status must be succeeded or failed", param="status")
        q = q.where(WebhookAttempt.status == status)
    sort = newest_first(WebhookAttempt.started_at, WebhookAttempt.id, "-started_at")
    return await paginate(uow, q, sort=sort, limit=limit, cursor=cursor, convert=_attempt)


def _attempt(r: Any) -> AttemptView:
    return AttemptView(
        r.id,
        r.event_id,
        r.delivery_id,
        r.endpoint_id,
        r.attempt,
        r.generation,
        r.status,
        r.response_status,
        r.duration_ms,
        r.error,
        r.response_body,
        r.started_at,
        r.retry_at,
    )
