"""Delivery for days, on the FakeClock, to real receivers on loopback: one down for its first three
attempts, one answering 410, one 429 with Retry-After (and one 503 with an HTTP-date
Retry-After), one that hangs past the timeout, one that always fails. Attempts follow the
Standard Webhooks schedule (within its jitter), nothing is lost, the 410 endpoint ends disabled,
and an endpoint failing for five days is disabled with an event. Both databases."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest
import sqlalchemy as sa

from giftwell.app import build_runtime
from giftwell.domain.webhooks import JITTER, SCHEDULE
from giftwell.services.webhooks import sending as webhook_sending
from giftwell.store.models import Event, Job
from tests import factories
from tests.integration.webhook_support import attempts, delivery, drive, endpoint, gaps
from tests.receivers import Receiver, Reply

TIMEOUT = 0.5


def on_schedule(observed: list[float], expected: list[float]) -> bool:
    return len(observed) == len(expected) and all(
        e * (1 - JITTER) - 0.01 <= o <= e * (1 + JITTER) + 0.01 for o, e in zip(observed, expected, strict=True)
    )


@pytest.fixture
async def short_rt(settings, clock):
    """The test's runtime with a short attempt timeout, for the receiver that hangs."""
    rt = build_runtime(settings.model_copy(update={"webhook_timeout_seconds": TIMEOUT}), clock=clock)
    yield rt
    await rt.close()


async def events_of(rt, account_id: str, type_: str) -> list:
    async with rt.reader() as uow:
        q = sa.select(Event).where(Event.account_id == account_id, Event.type == type_).order_by(Event.created_at)
        return list((await uow.conn.execute(q)).all())


async def test_down_gone_limited_and_hanging_receivers(short_rt, clock):
    rt = short_rt
    rx = Receiver(
        {
            "/gone": [Reply(410)] * 5,
            "/limited": [Reply(429, {"Retry-After": "120"})] * 2,
            # An HTTP date ten minutes on.
            "/busy": [Reply(503, {"Retry-After": format_datetime(clock.now + timedelta(seconds=600), usegmt=True)})],
            "/hang": [Reply(200, delay=3 * TIMEOUT)],
        }
    ).start()
    down = Receiver()  # not listening: connections are refused until it starts
    try:
        t = await factories.tenant(rt)
        eps = {}
        for name in ("gone", "limited", "busy", "hang"):
            eps[name], _ = await factories.webhook_endpoint(
                rt, t.account_id, rx.url(f"/{name}"), events=["card.created"]
            )
        eps["down"], _ = await factories.webhook_endpoint(
            rt, t.account_id, down.url("/down"), events=["card.created", "webhook_endpoint.disabled"]
        )
        issued = await factories.card(rt, t.account_id)
        (created,) = await events_of(rt, t.account_id, "card.created")

        async def bring_up_after_three() -> None:
            tried = [a for a in await attempts(rt, eps["down"]) if a.event_id == created.id]
            if down._server is None and len(tried) >= 3:
                down.start()

        await drive(rt, clock, each_round=bring_up_after_three)

        # Down for three attempts: connection refused, then delivered on the fourth, on schedule.
        tried = await attempts(rt, eps["down"])
        mine = [a for a in tried if a.event_id == created.id]
        assert [a.status for a in mine] == ["failed", "failed", "failed", "succeeded"]
        assert all(a.response_status is None and a.error for a in mine[:3])
        assert on_schedule(gaps(mine), list(SCHEDULE[1:4]))
        assert (await delivery(rt, eps["down"], created.id)).status == "succeeded"

        # 410: one attempt, the endpoint disabled, the account told (an event its other endpoint gets).
        (gone,) = await attempts(rt, eps["gone"])
        assert (gone.status, gone.response_status, gone.retry_at) == ("failed", 410, None)
        ep = await endpoint(rt, eps["gone"])
        assert (ep.enabled, ep.disabled_reason) == (False, "the endpoint answered 410 Gone")
        (disabled,) = await events_of(rt, t.account_id, "webhook_endpoint.disabled")
        assert disabled.data["endpoint"] == eps["gone"]
        assert (await delivery(rt, eps["gone"], created.id)).status == "failed"
        told = [r.json() for r in down.by_path("/down") if r.json()["type"] == "webhook_endpoint.disabled"]
        assert [b["data"]["endpoint"] for b in told] == [eps["gone"]]

        # 429 with Retry-After: 120 s, twice, instead of the schedule's 5 s and 5 min.
        limited = await attempts(rt, eps["limited"])
        assert [a.response_status for a in limited] == [429, 429, 200]
        assert gaps(limited) == [120.0, 120.0]
        # 503 with an HTTP date: waited until that date (the header has whole seconds).
        busy = await attempts(rt, eps["busy"])
        assert [a.response_status for a in busy] == [503, 200]
        assert 599 <= gaps(busy)[0] <= 601

        # Hung past the timeout: a failed attempt, then the next on the schedule.
        hang = await attempts(rt, eps["hang"])
        assert [a.status for a in hang] == ["failed", "succeeded"]
        assert hang[0].error == f"timed out after {TIMEOUT:g}s"
        assert hang[0].duration_ms >= TIMEOUT * 1000 * 0.9
        assert on_schedule(gaps(hang), [SCHEDULE[1]])

        # Nothing lost: every receiver but the gone one has the event, with one webhook-id throughout.
        for path, rcv in (("/limited", rx), ("/busy", rx), ("/hang", rx), ("/down", down)):
            got = [r for r in rcv.by_path(path) if r.json()["type"] == "card.created"]
            assert {r.headers["webhook-id"] for r in got} == {created.id}, path
            assert got[-1].json()["data"]["card"] == issued.card.id
        async with rt.reader() as uow:
            left = await uow.conn.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.state != "done"))
        assert left == 0
    finally:
        rx.stop()
        down.stop()


async def test_the_whole_schedule_then_disabled_after_five_days(rt, clock):
    rx = Receiver({"/broken": [Reply(500, body=b"boom " * 1000)] * 100}).start()
    try:
        t = await factories.tenant(rt)
        ep, _ = await factories.webhook_endpoint(rt, t.account_id, rx.url("/broken"), events=["card.created"])
        start = clock.now
        await factories.card(rt, t.account_id)
        (first,) = await events_of(rt, t.account_id, "card.created")
        await drive(rt, clock)
        tried = await attempts(rt, ep)
        assert len(tried) == 10
        assert all(a.response_status == 500 for a in tried)
        assert on_schedule(gaps(tried), list(SCHEDULE[1:]))
        assert [a.attempt for a in tried] == list(range(1, 11))
        assert tried[-1].retry_at is None
        assert all(a.retry_at is not None for a in tried[:-1])
        # The answer is kept, truncated.
        assert len(tried[0].response_body) == webhook_sending.MAX_RESPONSE_BODY
        d = await delivery(rt, ep, first.id)
        assert (d.status, d.attempts, d.last_response_status) == ("failed", 10, 500)
        # About three days of trying (the schedule's sum, each delay moved by up to the jitter):
        # the endpoint is still enabled, failing since the first attempt.
        after = await endpoint(rt, ep)
        assert after.enabled
        assert after.failing_since == start
        planned = sum(SCHEDULE)
        assert planned * (1 - JITTER) <= (clock.now - start).total_seconds() <= planned * (1 + JITTER) + 60

        # A second event a day later: its attempts cross the five days, and the endpoint is disabled.
        clock.advance(days=1)
        await factories.card(rt, t.account_id)
        second = (await events_of(rt, t.account_id, "card.created"))[1]
        await drive(rt, clock)
        off = await endpoint(rt, ep)
        assert not off.enabled
        assert off.disabled_reason == "every attempt failed for 5 days"
        assert (off.disabled_at - start).total_seconds() >= 5 * 86400
        (told,) = await events_of(rt, t.account_id, "webhook_endpoint.disabled")
        assert told.data["endpoint"] == ep
        assert (await delivery(rt, ep, second.id)).status == "failed"
        # Nothing more is attempted once it is disabled.
        last = (await attempts(rt, ep))[-1]
        assert last.started_at <= off.disabled_at
    finally:
        rx.stop()
