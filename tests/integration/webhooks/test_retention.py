"""Retention: webhook attempts past their age are purged in batches; events past theirs too (with
their deliveries and attempts), but never one whose delivery is still under way; nothing is purged
before its time, and events are kept for ever unless a retention is set. Both databases."""

from __future__ import annotations

import sqlalchemy as sa

from giftwell.domain.ids import new_id
from giftwell.services import events
from giftwell.services.webhooks import retention
from giftwell.store.models import Event, WebhookAttempt, WebhookDelivery
from tests import factories


async def _count(rt, model) -> int:
    async with rt.reader() as uow:
        return int(await uow.conn.scalar(sa.select(sa.func.count()).select_from(model)))


async def _event_with_attempts(rt, account_id: str, attempts: int) -> str:
    async with rt.uow() as uow:
        event_id = await events.record(uow, account_id=account_id, type="card.created", subject_id=None, data={})
        delivery = (
            await uow.conn.execute(sa.select(WebhookDelivery).where(WebhookDelivery.event_id == event_id))
        ).one()
        for i in range(attempts):
            await uow.conn.execute(
                sa.insert(WebhookAttempt).values(
                    id=new_id("wha"),
                    account_id=account_id,
                    endpoint_id=delivery.endpoint_id,
                    delivery_id=delivery.id,
                    event_id=event_id,
                    job_id=f"job_{event_id}",
                    job_attempt=i + 1,
                    generation=1,
                    attempt=i + 1,
                    status="failed",
                    response_status=500,
                    duration_ms=5,
                    error="HTTP 500",
                    response_body=None,
                    started_at=uow.now,
                    retry_at=None,
                )
            )
        await uow.commit()
    return event_id


async def test_old_attempts_and_events_are_purged_in_batches(rt, clock, settings):
    t = await factories.tenant(rt)
    await factories.webhook_endpoint(rt, t.account_id, "http://127.0.0.1:9/hook")
    ended = await _event_with_attempts(rt, t.account_id, 3)
    sending = await _event_with_attempts(rt, t.account_id, 2)
    async with rt.uow() as uow:
        await uow.conn.execute(
            sa.update(WebhookDelivery).where(WebhookDelivery.event_id == ended).values(status="succeeded")
        )
        await uow.commit()
    clock.advance(days=20)
    recent = await _event_with_attempts(rt, t.account_id, 1)

    # Nothing is old enough yet (30 days for attempts; events kept for ever by default).
    assert (await retention.purge(rt, batch=2)).webhook_attempts == 0
    clock.advance(days=11)
    purged = await retention.purge(rt, batch=2)
    assert (purged.webhook_attempts, purged.events) == (5, 0)
    assert await _count(rt, WebhookAttempt) == 1
    assert await _count(rt, Event) >= 3

    rt.settings.event_retention_days = 25
    try:
        purged = await retention.purge(rt, batch=1)
    finally:
        rt.settings.event_retention_days = None
    async with rt.reader() as uow:
        left = set((await uow.conn.scalars(sa.select(Event.id))).all())
        deliveries = set((await uow.conn.scalars(sa.select(WebhookDelivery.event_id))).all())
    assert ended not in left
    assert ended not in deliveries
    assert {sending, recent} <= left  # still being delivered; too young
    assert purged.events >= 1
