"""Real `giftwell worker` processes for the multi-process tests: start, stop (or SIGKILL), and
poll the database until a condition holds while checking the workers are still alive."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import TEST_SECRET

LEASE = 2.0


def start_worker(
    settings,
    tmp_path: Path,
    name: str,
    *,
    concurrency: int = 4,
    grace: float = 5,
    log_level: str = "warning",
    lease: float = LEASE,
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GIFTWELL_DATABASE_URL": settings.resolved_database_url,
        "GIFTWELL_SECRET_KEY": TEST_SECRET,
        "GIFTWELL_DATA_DIR": str(settings.data_dir),
        "GIFTWELL_TEST_HANDLERS": "1",
        "GIFTWELL_JOB_LEASE_SECONDS": str(lease),
        "GIFTWELL_LOG_LEVEL": log_level,
        "GIFTWELL_WORKER_SHUTDOWN_GRACE_SECONDS": str(grace),
    }
    log = (tmp_path / f"{name}.log").open("wb")
    cmd = [sys.executable, "-m", "giftwell", "worker", "--concurrency", str(concurrency), "--poll-interval", "0.1"]
    return subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)


async def wait_started(tmp_path: Path, names: list[str], procs, within: float = 60) -> None:
    """Until every named worker has logged that it started (it must run at log level info)."""
    deadline = time.monotonic() + within
    while not all("started" in (tmp_path / f"{n}.log").read_text() for n in names):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(p.poll() is None for p in procs), "a worker exited while starting"
        await asyncio.sleep(0.05)


async def scalar(rt, sql: str, **params) -> int:
    # A reader: on SQLite a unit of work would queue for the write lock behind the workers, and
    # only get it once they pause, missing everything in between.
    async with rt.reader() as uow:
        return int(await uow.conn.scalar(sa.text(sql), params))


async def wait_for(rt, sql: str, at_least: int, within: float, procs=(), **params) -> int:
    deadline = time.monotonic() + within
    while True:
        value = await scalar(rt, sql, **params)
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
