"""Real `giftwell worker` processes: a SIGKILLed worker loses nothing and no effect happens twice;
on PostgreSQL two workers racing never run one job twice; SIGTERM hands jobs back.

The workers run the test-only handler `test.slow` (GIFTWELL_TEST_HANDLERS=1), which applies its
effect idempotently and logs each completed run with wall-clock times."""

from __future__ import annotations

import signal
from collections import defaultdict

import pytest
import sqlalchemy as sa

from giftwell.services.queue import jobs
from tests.workers import scalar, start_worker, stop, wait_for, wait_started

pytestmark = pytest.mark.slow


async def enqueue_slow(rt, n: int, sleep: float) -> list[str]:
    async with rt.uow() as uow:
        ids = [await jobs.enqueue(uow, "test.slow", {"sleep": sleep}) for _ in range(n)]
        await uow.commit()
    return ids


async def test_a_killed_worker_loses_nothing_and_no_effect_happens_twice(real_rt, settings, tmp_path):
    rt = real_rt
    ids = await enqueue_slow(rt, 50, sleep=0.1)
    first = start_worker(settings, tmp_path, "first")
    try:
        await wait_for(rt, "SELECT n FROM test_job_totals", 12, within=30, procs=[first])
    finally:
        stop(first, signal.SIGKILL)
    in_flight = await scalar(rt, "SELECT count(*) FROM jobs WHERE state = 'running'")
    assert in_flight >= 1  # killed with jobs in hand: their leases must run out first
    assert await scalar(rt, "SELECT n FROM test_job_totals") < 50

    second = start_worker(settings, tmp_path, "second")
    try:
        await wait_for(rt, "SELECT count(*) FROM jobs WHERE state = 'done'", 50, within=30, procs=[second])
    finally:
        assert stop(second) == 0
    assert await scalar(rt, "SELECT n FROM test_job_totals") == 50
    assert await scalar(rt, "SELECT count(*) FROM test_job_effects") == 50
    assert await scalar(rt, "SELECT count(DISTINCT job_id) FROM test_job_runs") == 50
    async with rt.uow() as uow:
        listed = await jobs.list_jobs(uow, limit=100)
    assert {j.id for j in listed} == set(ids)
    assert all(j.state == "done" for j in listed)
    # the jobs the killed worker held were taken over after their lease, as a second attempt
    assert sum(1 for j in listed if j.attempts == 2) >= in_flight


# Release is covered on both databases in-process; one real process checks the signal handling.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_sigterm_releases_in_flight_jobs_to_the_next_worker(real_rt, settings, tmp_path):
    rt = real_rt
    await enqueue_slow(rt, 2, sleep=30)  # far longer than the grace
    proc = start_worker(settings, tmp_path, "w", concurrency=2, grace=0.2)
    try:
        await wait_for(rt, "SELECT count(*) FROM jobs WHERE state = 'running'", 2, within=30, procs=[proc])
    finally:
        assert stop(proc) == 0
    async with rt.uow() as uow:
        listed = await jobs.list_jobs(uow)
    # handed back at once: queued, due now, the interrupted attempt not counted
    assert [(j.state, j.attempts, j.lease_until) for j in listed] == [("queued", 0, None)] * 2


# Several worker processes at once is the PostgreSQL deployment.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_two_workers_racing_on_postgresql_run_each_job_once(real_rt, settings, tmp_path):
    rt = real_rt
    workers = [start_worker(settings, tmp_path, f"w{i}", log_level="info") for i in range(2)]
    # Both up before any job exists, so that both get a share.
    await wait_started(tmp_path, ["w0", "w1"], workers)
    ids = await enqueue_slow(rt, 60, sleep=0.1)
    try:
        await wait_for(rt, "SELECT count(*) FROM jobs WHERE state = 'done'", 60, within=60, procs=workers)
    finally:
        codes = [stop(p) for p in workers]
    assert codes == [0, 0]
    async with rt.uow() as uow:
        runs = (await uow.conn.execute(sa.text("SELECT job_id, pid, started, finished FROM test_job_runs"))).all()
        attempts = set((await uow.conn.scalars(sa.text("SELECT DISTINCT attempts FROM jobs"))).all())
    by_job: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in runs:
        by_job[r.job_id].append((r.started, r.finished))
    assert set(by_job) == set(ids)
    assert all(len(v) == 1 for v in by_job.values()), "a job ran twice"
    assert attempts == {1}
    assert len({r.pid for r in runs}) == 2  # both took part: SKIP LOCKED shared the work out
    assert await scalar(rt, "SELECT n FROM test_job_totals") == 60
