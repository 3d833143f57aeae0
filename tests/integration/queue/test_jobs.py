"""The job queue on both databases: the outbox, dedupe, due times, retries, dead jobs, leases
and fencing, periodic schedules. Driven with `Worker.run_once()` and the FakeClock."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
import sqlalchemy as sa

from giftwell.domain.errors import InvalidState
from giftwell.domain.jobs import PermanentFailure, RetryLater, backoff_ceiling
from giftwell.jobs.schedules import PERIODIC, Periodic
from giftwell.jobs.worker import Worker
from giftwell.services.queue import claims, jobs
from giftwell.store.models import Job, Schedule


class Recorder:
    """A handler that records the jobs it ran and fails as told."""

    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.ran: list[tuple[str, int]] = []
        self.fail_with = fail_with

    async def __call__(self, rt, job) -> None:
        self.ran.append((job.id, job.attempt))
        if self.fail_with is not None:
            raise self.fail_with


def worker(rt, handlers, **kw):
    kw.setdefault("periodic", ())
    kw.setdefault("rng", random.Random(1))
    return Worker(rt, handlers, **kw)


async def enqueue(rt, kind="test.kind", payload=None, **kw) -> str:
    async with rt.uow() as uow:
        job_id = await jobs.enqueue(uow, kind, payload or {}, **kw)
        await uow.commit()
    return job_id


async def get(rt, job_id):
    async with rt.uow() as uow:
        return await jobs.get(uow, job_id)


async def test_enqueue_is_part_of_the_callers_transaction(rt):
    async with rt.uow() as uow:
        await jobs.enqueue(uow, "test.kind", {"n": 1})
        # no commit: the change that caused the job did not happen, so neither does the job
    async with rt.uow() as uow:
        assert await jobs.list_jobs(uow) == []
    rt.jobs_wakeup.clear()
    job_id = await enqueue(rt, payload={"n": 2})
    assert rt.jobs_wakeup.is_set()  # an in-process worker is woken after the commit
    job = await get(rt, job_id)
    assert (job.state, job.payload, job.attempts, job.max_attempts) == ("queued", {"n": 2}, 0, 10)
    assert job.id.startswith("job_")


async def test_dedupe_key_returns_the_existing_job(rt):
    first = await enqueue(rt, dedupe_key="order:1:fulfil")
    async with rt.uow() as uow:
        again = await jobs.enqueue(uow, "test.kind", {"other": True}, dedupe_key="order:1:fulfil")
        other = await jobs.enqueue(uow, "test.kind", {}, dedupe_key="order:2:fulfil")
        await uow.commit()
    assert again == first
    assert other != first
    async with rt.uow() as uow:
        assert len(await jobs.list_jobs(uow)) == 2
        assert (await jobs.get(uow, first)).payload == {}


async def test_run_once_runs_due_jobs_and_not_future_ones(rt, clock):
    h = Recorder()
    now_id = await enqueue(rt)
    rt.jobs_wakeup.clear()
    later_id = await enqueue(rt, delay=60)
    assert not rt.jobs_wakeup.is_set()  # nothing to wake for: not due yet
    at_id = await enqueue(rt, run_at=clock.now + timedelta(minutes=5))
    w = worker(rt, {"test.kind": h})
    assert await w.run_once() == 1
    assert h.ran == [(now_id, 1)]
    done = await get(rt, now_id)
    assert (done.state, done.finished_at, done.locked_by) == ("done", clock.now, w.id)
    assert (await get(rt, later_id)).state == "queued"
    clock.advance(seconds=60)
    assert await w.run_once() == 1
    clock.advance(minutes=4)
    assert await w.run_once() == 1
    assert [r[0] for r in h.ran] == [now_id, later_id, at_id]
    assert await w.run_once() == 0


async def test_failures_back_off_with_jitter_then_go_dead(rt, clock, settings):
    h = Recorder(RuntimeError("upstream said no"))
    job_id = await enqueue(rt, max_attempts=4)
    w = worker(rt, {"test.kind": h})
    delays = []
    for attempt in range(1, 4):
        await w.run_once()
        job = await get(rt, job_id)
        assert (job.state, job.attempts) == ("queued", attempt)
        assert job.last_error == "RuntimeError: upstream said no"
        delay = (job.run_at - clock.now).total_seconds()
        ceiling = backoff_ceiling(attempt, base=settings.job_backoff_base_seconds, cap=settings.job_backoff_cap_seconds)
        assert 1 <= delay <= ceiling
        delays.append(delay)
        assert await w.run_once() == 0  # not due again yet
        clock.advance(seconds=delay)
    await w.run_once()
    job = await get(rt, job_id)
    assert (job.state, job.attempts, job.finished_at) == ("dead", 4, clock.now)
    assert len(h.ran) == 4
    async with rt.uow() as uow:
        log = await jobs.attempts(uow, job_id)
    assert [(a.attempt, a.outcome) for a in log] == [(1, "retry"), (2, "retry"), (3, "retry"), (4, "dead")]
    assert all(a.error == "RuntimeError: upstream said no" for a in log)


async def test_retry_later_sets_the_delay_and_permanent_failure_goes_dead(rt, clock):
    later = await enqueue(rt, "test.later")
    perm = await enqueue(rt, "test.perm")
    unknown = await enqueue(rt, "test.nobody")

    async def ask_later(rt_, job):
        raise RetryLater(90, "429 Too Many Requests, Retry-After: 90")

    async def give_up(rt_, job):
        raise PermanentFailure("card card_123 no longer exists")

    w = worker(rt, {"test.later": ask_later, "test.perm": give_up})
    assert await w.run_once() == 3
    job = await get(rt, later)
    assert (job.state, job.run_at, job.last_error) == (
        "queued",
        clock.now + timedelta(seconds=90),
        "429 Too Many Requests, Retry-After: 90",
    )
    job = await get(rt, perm)
    assert (job.state, job.attempts, job.last_error) == ("dead", 1, "card card_123 no longer exists")
    job = await get(rt, unknown)
    assert (job.state, job.last_error) == ("dead", "no handler for job kind 'test.nobody'")


async def test_retry_revives_a_dead_job(rt, clock):
    h = Recorder(RuntimeError("down"))
    job_id = await enqueue(rt, max_attempts=1)
    w = worker(rt, {"test.kind": h})
    await w.run_once()
    assert (await get(rt, job_id)).state == "dead"
    async with rt.uow() as uow:
        with pytest.raises(InvalidState):
            await jobs.retry(uow, (await jobs.enqueue(uow, "test.kind", {}, delay=999)))
    clock.advance(seconds=5)
    async with rt.uow() as uow:
        revived = await jobs.retry(uow, job_id, extra_attempts=2)
        await uow.commit()
    assert (revived.state, revived.attempts, revived.max_attempts, revived.run_at) == ("queued", 1, 3, clock.now)
    assert revived.finished_at is None
    h.fail_with = None
    assert await w.run_once() == 1
    job = await get(rt, job_id)
    assert (job.state, job.attempts, job.last_error) == ("done", 2, None)
    async with rt.uow() as uow:
        assert [a.outcome for a in await jobs.attempts(uow, job_id)] == ["dead", "done"]
        with pytest.raises(InvalidState):
            await jobs.retry(uow, job_id)


async def test_a_dead_workers_job_is_reclaimed_after_its_lease_and_its_late_result_refused(rt, clock, settings):
    h = Recorder()
    job_id = await enqueue(rt)
    # A worker claims the job, then hangs (or dies): it never reports back in time.
    [ghost_job] = await claims.claim(rt, worker="ghost", limit=10)
    live = worker(rt, {"test.kind": h})
    assert await live.run_once() == 0  # leased: nobody else may take it
    clock.advance(seconds=settings.job_lease_seconds - 1)
    assert await live.run_once() == 0
    clock.advance(seconds=2)
    assert await live.run_once() == 1
    assert h.ran == [(job_id, 2)]
    # The ghost wakes up and reports: the fence refuses it, whatever it says.
    assert not await claims.complete(rt, ghost_job)
    assert await claims.fail(rt, ghost_job, error="late", retry_in=None) is None
    assert await claims.heartbeat(rt, [ghost_job]) == set()
    job = await get(rt, job_id)
    assert (job.state, job.attempts, job.locked_by, job.last_error) == ("done", 2, live.id, None)
    async with rt.uow() as uow:
        log = await jobs.attempts(uow, job_id)
    assert [(a.attempt, a.worker, a.outcome) for a in log] == [(1, "ghost", "stale"), (2, live.id, "done")]


async def test_a_job_whose_last_attempt_lost_its_worker_goes_dead(rt, clock, settings):
    job_id = await enqueue(rt, max_attempts=1)
    await claims.claim(rt, worker="ghost", limit=1)
    clock.advance(seconds=settings.job_lease_seconds + 1)
    h = Recorder()
    await worker(rt, {"test.kind": h}).run_once()
    assert h.ran == []  # not run again: it may be what killed the last worker
    job = await get(rt, job_id)
    assert job.state == "dead"
    assert "lease expired on the last attempt" in job.last_error


async def test_heartbeat_extends_the_lease_and_release_hands_the_job_back(rt, clock, settings):
    job_id = await enqueue(rt)
    [held] = await claims.claim(rt, worker="w1", limit=1)
    clock.advance(seconds=settings.job_lease_seconds - 1)
    assert await claims.heartbeat(rt, [held]) == {job_id}
    clock.advance(seconds=settings.job_lease_seconds - 1)
    assert await claims.claim(rt, worker="w2", limit=1) == []
    assert await claims.release(rt, [held]) == 1
    job = await get(rt, job_id)
    assert (job.state, job.attempts, job.run_at, job.lease_until) == ("queued", 0, clock.now, None)
    [again] = await claims.claim(rt, worker="w2", limit=1)
    assert again.attempt == 1


async def test_errors_are_stored_without_secrets(rt, settings):
    job_id = await enqueue(rt)

    async def leaky(rt_, job):
        raise RuntimeError(f"could not sign with {settings.secret}")

    await worker(rt, {"test.kind": leaky}).run_once()
    job = await get(rt, job_id)
    assert settings.secret not in job.last_error
    assert job.last_error == "RuntimeError: could not sign with [redacted]"


async def test_a_handler_past_its_timeout_is_cancelled_and_retried(rt, clock):
    rt.settings.job_timeout_seconds = 0.05
    job_id = await enqueue(rt)

    async def slow(rt_, job):
        await asyncio.sleep(5)

    await worker(rt, {"test.kind": slow}).run_once()
    job = await get(rt, job_id)
    assert (job.state, job.attempts, job.last_error) == ("queued", 1, "timed out after 0.05s")


async def test_each_periodic_task_runs_once_per_interval_across_workers(rt, clock):
    runs: list[str] = []

    async def tick(rt_):
        runs.append("tick")

    periodic = (Periodic("tick", lambda s: 60.0, tick),)
    w1, w2 = worker(rt, {}, periodic=periodic), worker(rt, {}, periodic=periodic)
    await asyncio.gather(w1.run_once(), w2.run_once())
    await w1.run_once()
    assert runs == ["tick"]
    clock.advance(seconds=59)
    await asyncio.gather(w1.run_once(), w2.run_once())
    assert runs == ["tick"]
    clock.advance(seconds=1)
    await asyncio.gather(w2.run_once(), w1.run_once())
    assert runs == ["tick", "tick"]
    async with rt.uow() as uow:
        row = (await uow.conn.execute(sa.select(Schedule).where(Schedule.name == "tick"))).one()
    assert (row.next_run_at, row.lease_until, row.last_run_at) == (clock.now + timedelta(seconds=60), None, clock.now)


async def test_the_builtin_periodic_tasks_sweep_and_purge(rt, clock, settings):
    old = await enqueue(rt)
    await worker(rt, {"test.kind": Recorder()}).run_once()
    clock.advance(days=settings.job_retention_days, seconds=1)
    kept = await enqueue(rt)
    await Worker(rt, {}, periodic=PERIODIC).run_once()
    async with rt.uow() as uow:
        names = set((await uow.conn.scalars(sa.select(Schedule.name))).all())
        ids = set((await uow.conn.scalars(sa.select(Job.id))).all())
    assert names == {"sweep", "jobs.purge", "retention"}
    assert ids == {kept}  # the old done job was purged; the new one (no handler: dead) is kept
    assert old not in ids


async def test_the_running_worker_starts_new_jobs_at_once_and_releases_on_stop(rt, clock):
    rt.settings.worker_shutdown_grace_seconds = 0.1
    started = asyncio.Event()

    async def quick(rt_, job):
        started.set()

    async def stuck(rt_, job):
        started.set()
        await asyncio.sleep(60)

    w = worker(rt, {"test.quick": quick, "test.stuck": stuck}, poll_interval=30)
    task = asyncio.create_task(w.run())
    await asyncio.sleep(0.1)
    quick_id = await enqueue(rt, "test.quick")  # woken by the commit, not the 30 s poll
    await asyncio.wait_for(started.wait(), 5)
    for _ in range(50):
        if (await get(rt, quick_id)).state == "done":
            break
        await asyncio.sleep(0.05)
    assert (await get(rt, quick_id)).state == "done"
    started.clear()
    stuck_id = await enqueue(rt, "test.stuck")
    await asyncio.wait_for(started.wait(), 5)
    w.stop()
    await asyncio.wait_for(task, 5)
    job = await get(rt, stuck_id)
    assert (job.state, job.attempts, job.run_at) == ("queued", 0, clock.now)  # back for another worker


async def test_the_app_runs_a_worker_in_its_lifespan_when_asked(settings, clock):
    from giftwell.app import create_app

    app = create_app(settings, clock=clock, background=True)
    rt = app.state.runtime
    async with app.router.lifespan_context(app):
        job_id = await enqueue(rt, "test.nobody")  # no handler: goes dead, which is enough to see it ran
        for _ in range(100):
            if (await get(rt, job_id)).state != "queued":
                break
            await asyncio.sleep(0.05)
    assert (await get(rt, job_id)).state == "dead"
