"""Retention: what grows with every event is purged in batches once it is old enough.

- Webhook attempts (the attempt log) older than `GIFTWELL_WEBHOOK_ATTEMPT_RETENTION_DAYS`.
- Events older than `GIFTWELL_EVENT_RETENTION_DAYS` (unset: kept for ever), with their webhook
  deliveries and attempts, once every delivery of the event has ended (succeeded or failed):
  an event still being delivered is kept whatever its age.

Done jobs and their attempt logs (the email, SMS and webhook *jobs*) are purged by the queue
(`GIFTWELL_JOB_RETENTION_DAYS`); the audit log is never purged. Each batch is one transaction;
the workers run this hourly (`jobs/schedules.py`, task "retention").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from giftwell.domain.webhooks import DeliveryStatus
from giftwell.services.runtime import Runtime
from giftwell.store.models import Event, WebhookAttempt, WebhookDelivery

_OPEN = (DeliveryStatus.PENDING.value,)


@dataclass
class Purged:
    webhook_attempts: int = 0
    events: int = 0
    webhook_deliveries: int = 0


async def purge(rt: Runtime, *, batch: int = 1000) -> Purged:
    out = Purged()
    settings = rt.settings
    while True:
        async with rt.uow() as uow:
            cutoff = uow.now - timedelta(days=settings.webhook_attempt_retention_days)
            old = sa.select(WebhookAttempt.id).where(WebhookAttempt.started_at < cutoff).limit(batch)
            res = await uow.conn.execute(sa.delete(WebhookAttempt).where(WebhookAttempt.id.in_(old.scalar_subquery())))
            await uow.commit()
        n = res.rowcount or 0
        out.webhook_attempts += n
        if n < batch:
            break
    if settings.event_retention_days is None:
        return out
    while True:
        async with rt.uow() as uow:
            cutoff = uow.now - timedelta(days=settings.event_retention_days)
            still_sending = sa.exists().where(WebhookDelivery.event_id == Event.id, WebhookDelivery.status.in_(_OPEN))
            ids = list(
                (
                    await uow.conn.scalars(
                        sa.select(Event.id).where(Event.created_at < cutoff, ~still_sending).limit(batch)
                    )
                ).all()
            )
            if ids:
                await uow.conn.execute(sa.delete(WebhookAttempt).where(WebhookAttempt.event_id.in_(ids)))
                gone = await uow.conn.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)))
                await uow.conn.execute(sa.delete(Event).where(Event.id.in_(ids)))
                out.webhook_deliveries += gone.rowcount or 0
            await uow.commit()
        out.events += len(ids)
        if len(ids) < batch:
            break
    return out
