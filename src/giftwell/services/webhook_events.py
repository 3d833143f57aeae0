"""Events as the webhooks API shows them, replays, and the attempt log.

Only the event types an endpoint may subscribe to (`domain.webhooks.EVENT_TYPES`) are listed; the
rest of the `events` table is an internal audit trail. A replay sends an event again with the
same `webhook-id` (the event id), so a receiver that de-duplicates on it stays correct.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain.errors import InvalidState, NotFound, ValidationFailed
from giftwell.domain.webhooks import EVENT_TYPES, DeliveryStatus, subscribed
from giftwell.services import webhook_fanout, webhooks
from giftwell.services.pagination import Page, check_limit, cursor_time, decode_cursor, encode_cursor
from giftwell.store.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from giftwell.store.uow import UnitOfWork

D = WebhookDelivery
A = WebhookAttempt
MAX_RECOVER = 1000


@dataclass(frozen=True, slots=True)
class EventView:
    id: str
    type: str
    created_at: datetime
    data: dict[str, Any]


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


def _event(r: Any) -> EventView:
    return EventView(r.id, r.type, r.created_at, r.data)


async def list_events(
    uow: UnitOfWork,
    *,
    account_id: str,
    type: str | None = None,
    created_gte: datetime | None = None,
    created_lte: datetime | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[EventView]:
    """The account's events, newest first."""
    check_limit(limit)
    q = sa.select(Event).where(Event.account_id == account_id)
    if type is not None:
        if type not in EVENT_TYPES:
            raise ValidationFailed(f"unknown event type {type!r}", param="type")
        q = q.where(Event.type == type)
    else:
        q = q.where(Event.type.in_(list(EVENT_TYPES)))
    if created_gte is not None:
        q = q.where(Event.created_at >= created_gte)
    if created_lte is not None:
        q = q.where(Event.created_at <= created_lte)
    if cursor:
        value, last_id = decode_cursor(cursor, "-created_at")
        at = cursor_time(value)
        q = q.where(sa.or_(Event.created_at < at, sa.and_(Event.created_at == at, Event.id < last_id)))
    rows = (await uow.conn.execute(q.order_by(Event.created_at.desc(), Event.id.desc()).limit(limit + 1))).all()
    data = [_event(r) for r in rows[:limit]]
    more = len(rows) > limit
    nxt = encode_cursor("-created_at", data[-1].created_at.isoformat(), data[-1].id) if more and data else None
    return Page(data, more, nxt)


async def access_event(uow: UnitOfWork, *, account_id: str, event_id: str) -> EventView:
    row = (
        await uow.conn.execute(
            sa.select(Event).where(
                Event.id == event_id, Event.account_id == account_id, Event.type.in_(list(EVENT_TYPES))
            )
        )
    ).first()
    if row is None:
        raise NotFound("no such event", param="event")
    return _event(row)


async def _resend(uow: UnitOfWork, delivery: Any) -> DeliveryView:
    """The delivery's next generation: pending, due now, its own job. The job of the generation
    before, if still queued, finds itself superseded and stops."""
    generation = int(delivery.generation) + 1
    await uow.conn.execute(
        sa.update(D)
        .where(D.id == delivery.id)
        .values(
            status=DeliveryStatus.PENDING.value,
            generation=generation,
            next_attempt_at=uow.now,
            updated_at=uow.now,
        )
    )
    await webhook_fanout.schedule(uow, delivery_id=delivery.id, generation=generation, account_id=delivery.account_id)
    return DeliveryView(delivery.id, delivery.event_id, delivery.endpoint_id, DeliveryStatus.PENDING.value, generation)


async def replay_event(
    uow: UnitOfWork, *, account_id: str, event_id: str, endpoint_id: str | None = None
) -> list[DeliveryView]:
    """Send an event again to every enabled endpoint that subscribes to it now (or to the one
    named), whatever became of earlier attempts. Same `webhook-id` as the first time."""
    event = await access_event(uow, account_id=account_id, event_id=event_id)
    if endpoint_id is not None:
        named = await webhooks.access_endpoint(uow, account_id=account_id, endpoint_id=endpoint_id)
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
        existing = (await uow.conn.execute(sa.select(D).where(D.event_id == event.id, D.endpoint_id == ep.id))).first()
        if existing is None:
            delivery_id = await webhook_fanout.create_delivery(
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
    endpoint = await webhooks.access_endpoint(uow, account_id=account_id, endpoint_id=endpoint_id)
    if not endpoint.enabled:
        raise InvalidState("the endpoint is disabled; enable it first", param="endpoint", state="disabled")
    rows = (
        await uow.conn.execute(
            sa.select(D)
            .where(
                D.endpoint_id == endpoint.id,
                D.status == DeliveryStatus.FAILED.value,
                D.event_created_at >= since,
                D.event_created_at <= until,
            )
            .order_by(D.event_created_at, D.id)
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
    endpoint = await webhooks.access_endpoint(uow, account_id=account_id, endpoint_id=endpoint_id)
    q = sa.select(A).where(A.endpoint_id == endpoint.id, A.account_id == account_id)
    if event_id is not None:
        q = q.where(A.event_id == event_id)
    if status is not None:
        if status not in ("succeeded", "failed"):
            raise ValidationFailed("status must be succeeded or failed", param="status")
        q = q.where(A.status == status)
    if cursor:
        value, last_id = decode_cursor(cursor, "-started_at")
        at = cursor_time(value)
        q = q.where(sa.or_(A.started_at < at, sa.and_(A.started_at == at, A.id < last_id)))
    rows = (await uow.conn.execute(q.order_by(A.started_at.desc(), A.id.desc()).limit(limit + 1))).all()
    data = [
        AttemptView(
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
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    nxt = encode_cursor("-started_at", data[-1].started_at.isoformat(), data[-1].id) if more and data else None
    return Page(data, more, nxt)
