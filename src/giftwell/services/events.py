"""Events: recorded in the transaction of the change they describe, fanned out to webhooks in
that same transaction, and read back.

Every state change writes an event row with `record`: an audit trail, and the source of
webhooks. `record` calls `fan_out` for every event type an endpoint may subscribe to: one
delivery row and one `webhook.deliver` job per subscribed endpoint, written with the event (the
transactional job queue), so a committed event is never lost on its way to a receiver and a
rolled-back one is never sent. An endpoint that is disabled still gets its delivery, recorded as
failed ("endpoint disabled"), so a replay of failed deliveries after it is enabled again finds it.

Only the event types an endpoint may subscribe to (`domain.webhooks.EVENT_TYPES`) are listed by
`list_events`; the rest of the `events` table is an internal audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain.errors import NotFound, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.domain.webhooks import EVENT_TYPES, MAX_ATTEMPTS, DeliveryStatus, subscribed
from giftwell.services.pagination import Page, newest_first, paginate
from giftwell.services.queue import jobs
from giftwell.store.models import Event, WebhookDelivery, WebhookEndpoint
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class EventView:
    id: str
    type: str
    created_at: datetime
    data: dict[str, Any]


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
    sort = newest_first(Event.created_at, Event.id)
    return await paginate(uow, q, sort=sort, limit=limit, cursor=cursor, convert=_event)


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


_INSERT_EVENT = sa.insert(Event)


async def record(uow: UnitOfWork, *, account_id: str, type: str, subject_id: str | None, data: dict[str, Any]) -> str:
    event_id = new_id("evt")
    await uow.conn.execute(
        _INSERT_EVENT,
        {
            "id": event_id,
            "account_id": account_id,
            "type": type,
            "subject_id": subject_id,
            "data": data,
            "created_at": uow.now,
        },
    )
    await fan_out(uow, event_id=event_id, account_id=account_id, event_type=type, created_at=uow.now)
    return event_id


DELIVER_JOB = "webhook.deliver"


ENDPOINT_DISABLED = "endpoint disabled"


# Built once: this runs with every card event, on the redemption hot path.
ENDPOINTS = sa.select(
    WebhookEndpoint.id, WebhookEndpoint.events, WebhookEndpoint.format, WebhookEndpoint.enabled
).where(WebhookEndpoint.account_id == sa.bindparam("account_id"), WebhookEndpoint.deleted_at.is_(None))


_INSERT_DELIVERY = sa.insert(WebhookDelivery)


async def fan_out(uow: UnitOfWork, *, event_id: str, account_id: str, event_type: str, created_at: datetime) -> int:
    """Create the deliveries of one event; returns how many were scheduled (enabled endpoints)."""
    if event_type not in EVENT_TYPES:
        return 0
    endpoints = [
        (r.id, r.events, r.format, bool(r.enabled))
        for r in (await uow.conn.execute(ENDPOINTS, {"account_id": account_id})).all()
    ]
    return await deliver_to(
        uow, endpoints, event_id=event_id, account_id=account_id, event_type=event_type, created_at=created_at
    )


Endpoint = tuple[str, list[str], str, bool]  # id, events, format, enabled


async def deliver_to(
    uow: UnitOfWork,
    endpoints: list[Endpoint],
    *,
    event_id: str,
    account_id: str,
    event_type: str,
    created_at: datetime,
) -> int:
    """`fan_out` over the account's endpoints read already (in the same transaction, as by the
    redemption's one statement); how many deliveries were scheduled."""
    if event_type not in EVENT_TYPES:
        return 0
    scheduled = 0
    for endpoint_id, events, fmt, enabled in endpoints:
        if not subscribed(events, fmt, event_type):
            continue
        await create_delivery(
            uow,
            event_id=event_id,
            endpoint_id=endpoint_id,
            account_id=account_id,
            event_created_at=created_at,
            enabled=enabled,
        )
        scheduled += enabled
    return scheduled


async def create_delivery(
    uow: UnitOfWork,
    *,
    event_id: str,
    endpoint_id: str,
    account_id: str,
    event_created_at: datetime,
    enabled: bool,
) -> str:
    delivery_id = new_id("whd")
    await uow.conn.execute(
        _INSERT_DELIVERY,
        {
            "id": delivery_id,
            "account_id": account_id,
            "event_id": event_id,
            "endpoint_id": endpoint_id,
            "event_created_at": event_created_at,
            "status": (DeliveryStatus.PENDING if enabled else DeliveryStatus.FAILED).value,
            "generation": 0,
            "attempts": 0,
            "last_attempt_at": None,
            "last_response_status": None,
            "last_error": None if enabled else ENDPOINT_DISABLED,
            "next_attempt_at": uow.now if enabled else None,
            "created_at": uow.now,
            "updated_at": uow.now,
        },
    )
    if enabled:
        await schedule(uow, delivery_id=delivery_id, generation=0, account_id=account_id)
    return delivery_id


async def schedule(uow: UnitOfWork, *, delivery_id: str, generation: int, account_id: str) -> str:
    """The job that makes a delivery's attempts: due now, one per generation (a replay is the
    next generation), with the schedule's ten attempts."""
    return await jobs.enqueue(
        uow,
        DELIVER_JOB,
        {"delivery": delivery_id, "generation": generation},
        dedupe_key=f"webhook:{delivery_id}:{generation}",
        max_attempts=MAX_ATTEMPTS,
        account_id=account_id,
    )
