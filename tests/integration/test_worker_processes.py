"""Real `giftwell worker` processes: a SIGKILLed worker loses nothing and no effect happens twice;
on PostgreSQL two workers racing never run one job twice; SIGTERM hands jobs back.

The workers run the test-only handler `test.slow` (GIFTWELL_TEST_HANDLERS=1), which applies its
effect idempotently and logs each completed run with wall-clock times."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from giftwell.jobs.handlers import testing
from giftwell.services import jobs
from giftwell.services.runtime import Runtime
from tests.conftest import TEST_SECRET

pytestmark = pytest.mark.slow

LEASE = 2.0


@pytest.fixture
async def real_rt(settings):
    """A runtime on the real clock: the worker processes use it too."""
    rt = Runtime(settings)
    await testing.install(rt)
    yield rt
    await rt.close()


def start_worker(
    settings, tmp_path: Path, name: str, *, concurrency: int = 4, grace: float = 5, log_level: str = "warning"
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GIFTWELL_DATABASE_URL": settings.resolved_database_url,
        "GIFTWELL_SECRET_KEY": TEST_SECRET,
        "GIFTWELL_DATA_DIR": str(settings.data_dir),
        "GIFTWELL_TEST_HANDLERS": "1",
        "GIFTWELL_JOB_LEASE_SECONDS": str(LEASE),
        "GIFTWELL_LOG_LEVEL": log_level,
        "GIFTWELL_WORKER_SHUTDOWN_GRACE_SECONDS": str(grace),
    }
    log = (tmp_path / f"{name}.log").open("wb")
    cmd = [sys.executable, "-m", "giftwell", "worker", "--concurrency", str(concurrency), "--poll-interval", "0.1"]
    return subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)


async def enqueue_slow(rt, n: int, sleep: float) -> list[str]:
    async with rt.uow() as uow:
        ids = [await jobs.enqueue(uow, "test.slow", {"sleep": sleep}) for _ in range(n)]
        await uow.commit()
    return ids


async def scalar(rt, sql: str) -> int:
    async with rt.uow() as uow:
        return int(await uow.conn.scalar(sa.text(sql)))


async def wait_for(rt, sql: str, at_least: int, within: float, procs=()) -> int:
    deadline = time.monotonic() + within
    while True:
        value = await scalar(rt, sql)
        if value >= at_least:
            return value
        for p in procs:
            assert p.poll() is None, f"worker exited early with {p.returncode}"
        assert time.monotonic() < deadline, f"{sql}: {value} < {at_least} after {within}s"
        await asyncio.sleep(0.05)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


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
    deadline = time.monotonic() + 60
    while not all("started" in (tmp_path / f"w{i}.log").read_text() for i in range(2)):
        assert time.monotonic() < deadline
        assert all(p.poll() is None for p in workers)
        await asyncio.sleep(0.05)
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
