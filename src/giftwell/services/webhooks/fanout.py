"""Fan an event out to the account's webhook endpoints, in the event's own transaction.

`events.record` calls `fan_out` for every event type an endpoint may subscribe to: one delivery
row and one `webhook.deliver` job per subscribed endpoint, written with the event (the
transactional outbox), so a committed event is never lost on its way to a receiver and a rolled
back one is never sent. An endpoint that is disabled still gets its delivery, recorded as failed
("endpoint disabled"), so a replay of failed deliveries after it is enabled again finds it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from giftwell.domain.ids import new_id
from giftwell.domain.webhooks import EVENT_TYPES, MAX_ATTEMPTS, DeliveryStatus, subscribed
from giftwell.services.queue import jobs
from giftwell.store.models import WebhookDelivery, WebhookEndpoint
from giftwell.store.uow import UnitOfWork

DELIVER_JOB = "webhook.deliver"
ENDPOINT_DISABLED = "endpoint disabled"

# Built once: this runs with every card event, on the redemption hot path.
_ENDPOINTS = sa.select(
    WebhookEndpoint.id, WebhookEndpoint.events, WebhookEndpoint.format, WebhookEndpoint.enabled
).where(WebhookEndpoint.account_id == sa.bindparam("account_id"), WebhookEndpoint.deleted_at.is_(None))
_INSERT_DELIVERY = sa.insert(WebhookDelivery)


async def fan_out(uow: UnitOfWork, *, event_id: str, account_id: str, event_type: str, created_at: datetime) -> int:
    """Create the deliveries of one event; returns how many were scheduled (enabled endpoints)."""
    if event_type not in EVENT_TYPES:
        return 0
    scheduled = 0
    for r in (await uow.conn.execute(_ENDPOINTS, {"account_id": account_id})).all():
        if not subscribed(r.events, r.format, event_type):
            continue
        await create_delivery(
            uow,
            event_id=event_id,
            endpoint_id=r.id,
            account_id=account_id,
            event_created_at=created_at,
            enabled=bool(r.enabled),
        )
        scheduled += bool(r.enabled)
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
