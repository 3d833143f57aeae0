"""Driving webhook deliveries on the FakeClock: run the worker, jump to the next due job, repeat."""

from __future__ import annotations

import itertools
import random
from collections.abc import Awaitable, Callable

import sqlalchemy as sa

from giftwell.jobs.worker import Worker
from giftwell.store.models import Job, WebhookAttempt, WebhookDelivery, WebhookEndpoint


def worker(rt) -> Worker:
    return Worker(rt, periodic=(), rng=random.Random(7), concurrency=8)


async def next_due(rt):
    async with rt.reader() as uow:
        return await uow.conn.scalar(sa.select(sa.func.min(Job.run_at)).where(Job.state == "queued"))


async def drive(rt, clock, *, each_round: Callable[[], Awaitable[None]] | None = None, rounds: int = 200) -> None:
    """Run every job due, then move the clock to the next due job, until none is queued."""
    w = worker(rt)
    for _ in range(rounds):
        await w.run_once()
        if each_round is not None:
            await each_round()
        due = await next_due(rt)
        if due is None:
            return
        if due > clock.now:
            clock.now = due
    raise AssertionError("deliveries still queued after the rounds allowed")


async def attempts(rt, endpoint_id: str) -> list:
    async with rt.reader() as uow:
        rows = await uow.conn.execute(
            sa.select(WebhookAttempt)
            .where(WebhookAttempt.endpoint_id == endpoint_id)
            .order_by(WebhookAttempt.started_at, WebhookAttempt.generation, WebhookAttempt.attempt)
        )
        return list(rows.all())


async def delivery(rt, endpoint_id: str, event_id: str):
    async with rt.reader() as uow:
        q = sa.select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.event_id == event_id
        )
        return (await uow.conn.execute(q)).one()


async def endpoint(rt, endpoint_id: str):
    async with rt.reader() as uow:
        return (await uow.conn.execute(sa.select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))).one()


def gaps(rows) -> list[float]:
    return [(b.started_at - a.started_at).total_seconds() for a, b in itertools.pairwise(rows)]
