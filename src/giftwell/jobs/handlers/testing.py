"""Test-only handlers, registered when GIFTWELL_TEST_HANDLERS=1 (never in production).

`test.slow` sleeps, then applies its effect idempotently, the way every real handler should: the
effect row keyed by job id and the counter it bumps commit in one transaction, and a second run
of the same job finds the row and changes nothing. Each completed run is logged with wall-clock
start and end times so a test can check that no job ran twice at once.
"""

from __future__ import annotations

import asyncio
import os
import time

import sqlalchemy as sa

from giftwell.jobs.handlers import handler
from giftwell.services.queue.claims import ClaimedJob
from giftwell.services.runtime import Runtime

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS test_job_effects (job_id VARCHAR(40) PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS test_job_totals (name VARCHAR(20) PRIMARY KEY, n INTEGER NOT NULL)",
    "INSERT INTO test_job_totals (name, n) VALUES ('effects', 0) ON CONFLICT DO NOTHING",
    "CREATE TABLE IF NOT EXISTS test_job_runs (job_id VARCHAR(40) NOT NULL, attempt INTEGER NOT NULL,"
    " pid INTEGER NOT NULL, started DOUBLE PRECISION NOT NULL, finished DOUBLE PRECISION NOT NULL)",
)


async def install(rt: Runtime) -> None:
    """Create the tables `test.slow` writes to."""
    async with rt.uow() as uow:
        for stmt in SCHEMA:
            await uow.conn.execute(sa.text(stmt))
        await uow.commit()


@handler("test.slow")
async def slow(rt: Runtime, job: ClaimedJob) -> None:
    started = time.time()
    await asyncio.sleep(float(job.payload.get("sleep", 0.1)))
    async with rt.uow() as uow:
        applied = await uow.conn.execute(
            sa.text("INSERT INTO test_job_effects (job_id) VALUES (:id) ON CONFLICT DO NOTHING RETURNING job_id"),
            {"id": job.id},
        )
        if applied.first() is not None:
            await uow.conn.execute(sa.text("UPDATE test_job_totals SET n = n + 1 WHERE name = 'effects'"))
        await uow.conn.execute(
            sa.text("INSERT INTO test_job_runs VALUES (:id, :attempt, :pid, :started, :finished)"),
            {"id": job.id, "attempt": job.attempt, "pid": os.getpid(), "started": started, "finished": time.time()},
        )
        await uow.commit()
