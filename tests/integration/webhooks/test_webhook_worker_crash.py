"""A real `giftwell worker` process SIGKILLed while deliveries are in flight to a slow receiver: after
a second worker takes over (once the leases run out), every event is delivered, every delivery
succeeded, and the requests sent twice carry the same webhook-id and the same body. Both
databases."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import defaultdict

import pytest
import sqlalchemy as sa

from giftwell.app import build_runtime
from giftwell.store.models import Event, WebhookDelivery
from tests import factories
from tests.receivers import Receiver, Reply
from tests.workers import start_worker, stop, wait_for

pytestmark = pytest.mark.slow

EVENTS = 30


@pytest.fixture
async def real_rt(settings, monkeypatch):
    """A runtime on the real clock, shared with the worker processes (which get the receiver's
    loopback address allowed, as the tests' settings do)."""
    monkeypatch.setenv("GIFTWELL_WEBHOOKS_ALLOW_PRIVATE", "true")
    rt = build_runtime(settings)
    yield rt
    await rt.close()


async def test_a_killed_worker_delivers_every_event_after_restart(real_rt, settings, tmp_path):
    rt = real_rt
    rx = Receiver({"/slow": [Reply(200, delay=0.3)] * 1000}).start()
    try:
        t = await factories.tenant(rt)
        await factories.webhook_endpoint(rt, t.account_id, rx.url("/slow"), events=["card.created"])
        for _ in range(EVENTS):
            await factories.card(rt, t.account_id)
        async with rt.reader() as uow:
            q = sa.select(Event.id).where(Event.account_id == t.account_id, Event.type == "card.created")
            event_ids = set((await uow.conn.scalars(q)).all())
        assert len(event_ids) == EVENTS

        first = start_worker(settings, tmp_path, "first")
        try:
            deadline = time.monotonic() + 60
            while len(rx.received) < 8:
                assert first.poll() is None, (tmp_path / "first.log").read_text()
                assert time.monotonic() < deadline, "the first worker delivered nothing"
                await asyncio.sleep(0.02)
        finally:
            stop(first, signal.SIGKILL)
        at_kill = len(rx.received)
        assert at_kill < EVENTS
        running = "SELECT count(*) FROM jobs WHERE kind = 'webhook.deliver' AND state = 'running'"
        assert await wait_for(rt, running, 1, within=1) >= 1  # killed with deliveries in hand

        second = start_worker(settings, tmp_path, "second")
        try:
            done = "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'"
            await wait_for(rt, done, EVENTS, within=90, procs=[second])
        finally:
            assert stop(second) == 0
    finally:
        rx.stop()

    got: dict[str, list[bytes]] = defaultdict(list)
    for r in rx.by_path("/slow"):
        got[r.headers["webhook-id"]].append(r.body)
        assert r.json()["id"] == r.headers["webhook-id"]
    assert set(got) == event_ids  # every event arrived, and nothing else
    twice = {k: v for k, v in got.items() if len(v) > 1}
    assert twice, "the kill was expected to catch requests in flight, sent again after the restart"
    assert all(len(set(bodies)) == 1 for bodies in twice.values())  # same id, same body
    async with rt.reader() as uow:
        statuses = set((await uow.conn.scalars(sa.select(WebhookDelivery.status))).all())
        jobs_left = await uow.conn.scalar(sa.text("SELECT count(*) FROM jobs WHERE state <> 'done'"))
    assert statuses == {"succeeded"}
    assert jobs_left == 0
