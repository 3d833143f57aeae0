"""The embedded server after a crash: `giftwell serve` on SQLite holds an exclusive lock on its
database file, so a second server on the same file is refused with a clear message; and a server
restarted after a SIGKILL resumes the job its previous incarnation was running within seconds, not
after the job's 60-second lease. `giftwell jobs workers` shows each incarnation's worker."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from giftwell.app import build_runtime
from giftwell.jobs.handlers import testing
from giftwell.services.queue import jobs
from giftwell.settings import load_settings
from tests.conftest import TEST_SECRET
from tests.servers import cli, giftwell_env, serve_once, start_servers, stop_servers
from tests.workers import scalar

pytestmark = pytest.mark.slow

RESUME_WITHIN = 5.0


async def _wait(rt, sql: str, want: int, within: float, **params) -> float:
    started = time.monotonic()
    while (await scalar(rt, sql, **params)) < want:
        assert time.monotonic() - started < within, f"{sql} did not reach {want} within {within}s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_a_killed_embedded_server_is_resumed_by_the_next_within_seconds(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'giftwell.db'}"
    env = giftwell_env(db, tmp_path / "var", TEST_SECRET, GIFTWELL_TEST_HANDLERS="1", GIFTWELL_JOB_LEASE_SECONDS="60")
    first = start_servers(env, 1, tmp_path)
    rt = build_runtime(load_settings(database_url=db, data_dir=tmp_path / "var", secret_key=TEST_SECRET))
    try:
        # A second server on the same file is refused, naming the holder.
        second = await asyncio.to_thread(serve_once, env)
        assert second.returncode == 2, second.stderr
        assert "already serving" in second.stderr
        assert f"pid {first[0].proc.pid}" in second.stderr

        await testing.install(rt)
        async with rt.uow() as uow:
            job_id = await jobs.enqueue(uow, "test.slow", {"sleep": 3})
            await uow.commit()
        await _wait(rt, "SELECT count(*) FROM jobs WHERE id = :id AND state = 'running'", 1, 30, id=job_id)
        os.kill(first[0].proc.pid, signal.SIGKILL)
        first[0].proc.wait(timeout=10)

        code, seen = await asyncio.to_thread(cli, env, "jobs", "workers")
        assert code == 0
        [dead] = seen["workers"]
        assert (dead["role"], dead["running_jobs"], dead["stopped_at"]) == ("server", 1, None)

        again = start_servers(env, 1, tmp_path)
        try:
            took = await _wait(
                rt, "SELECT count(*) FROM jobs WHERE id = :id AND attempts >= 2", 1, RESUME_WITHIN, id=job_id
            )
            await _wait(rt, "SELECT count(*) FROM jobs WHERE id = :id AND state = 'done'", 1, 30, id=job_id)
            assert await scalar(rt, "SELECT n FROM test_job_totals WHERE name = 'effects'") == 1
            code, seen = await asyncio.to_thread(cli, env, "jobs", "workers")
            statuses = sorted((w["status"], w["pid"]) for w in seen["workers"])
            assert statuses == sorted([("stopped", first[0].proc.pid), ("alive", again[0].proc.pid)])
        finally:
            stop_servers(again)
        print(f"resumed {took:.2f}s after the restarted server answered /healthz")
    finally:
        await rt.close()
        stop_servers(first)
