"""Background jobs, the worker's side: claim, heartbeat, finish, release; periodic schedules.

Each function is one short transaction of its own; handlers run between them, outside any
transaction the queue holds.

- **Claim** is one statement. On PostgreSQL the inner SELECT takes `FOR UPDATE SKIP LOCKED`, so
  workers on any number of machines each take different jobs without waiting on each other.
  On SQLite, `BEGIN IMMEDIATE` makes the whole statement the only writer.
- A claimed job carries a **lease** (`lease_until`); a job whose lease passed (its worker died)
  is claimable again. Claiming counts an attempt.
- Every later write about a claimed job is **fenced** on `(id, locked_by, attempts, state)`:
  a worker whose lease expired and whose job was taken over cannot overwrite the new owner's
  result, nor extend its lease.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from giftwell.domain.jobs import JobState
from giftwell.services.runtime import Runtime
from giftwell.store.models import Job, JobAttempt, Schedule
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job as its handler sees it. `attempt` is 1 on the first run."""

    id: str
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    account_id: str | None
    run_at: datetime
    created_at: datetime
    worker: str
    claimed_at: datetime


def _running(job: ClaimedJob) -> sa.ColumnElement[bool]:
    """The fence: this job, still running, still held by this worker for this attempt."""
    return sa.and_(
        Job.id == job.id,
        Job.locked_by == job.worker,
        Job.attempts == job.attempt,
        Job.state == JobState.RUNNING.value,
    )


async def claim(rt: Runtime, *, worker: str, limit: int) -> list[ClaimedJob]:
    """Claim up to `limit` due jobs (oldest `run_at` first), and jobs whose lease has passed."""
    async with rt.uow() as uow:
        now = uow.now
        due = sa.or_(
            sa.and_(Job.state == JobState.QUEUED.value, Job.run_at <= now),
            sa.and_(Job.state == JobState.RUNNING.value, Job.lease_until < now),
        )
        pick = sa.select(Job.id).where(due).order_by(Job.run_at).limit(limit)
        if uow.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        rows = (
            await uow.conn.execute(
                sa.update(Job)
                .where(Job.id.in_(pick.scalar_subquery()))
                .values(
                    state=JobState.RUNNING.value,
                    lease_until=now + timedelta(seconds=rt.settings.job_lease_seconds),
                    attempts=Job.attempts + 1,
                    locked_by=worker,
                    updated_at=now,
                )
                .returning(
                    Job.id,
                    Job.kind,
                    Job.payload,
                    Job.attempts,
                    Job.max_attempts,
                    Job.account_id,
                    Job.run_at,
                    Job.created_at,
                )
            )
        ).all()
        await uow.commit()
    jobs = [
        ClaimedJob(
            r.id, r.kind, r.payload, r.attempts, r.max_attempts, r.account_id, r.run_at, r.created_at, worker, now
        )
        for r in rows
    ]
    return sorted(jobs, key=lambda j: j.run_at)


async def heartbeat(rt: Runtime, jobs: Sequence[ClaimedJob]) -> set[str]:
    """Extend the leases of jobs still held; returns the ids that were extended (a job missing
    from the answer was taken over: its handler's result will be refused)."""
    if not jobs:
        return set()
    kept: set[str] = set()
    async with rt.uow() as uow:
        lease = uow.now + timedelta(seconds=rt.settings.job_lease_seconds)
        for job in jobs:
            res = await uow.conn.execute(
                sa.update(Job).where(_running(job)).values(lease_until=lease, updated_at=uow.now).returning(Job.id)
            )
            if res.first() is not None:
                kept.add(job.id)
        await uow.commit()
    return kept


async def complete(rt: Runtime, job: ClaimedJob) -> bool:
    """Mark the job done. False if the fence refused it (the job was taken over)."""
    async with rt.uow() as uow:
        ok = await _finish(uow, job, state=JobState.DONE, error=None, outcome="done")
        await uow.commit()
    return ok


async def fail(rt: Runtime, job: ClaimedJob, *, error: str, retry_in: float | None) -> str | None:
    """Record a failed attempt: back to queued, due in `retry_in` seconds, or dead when
    `retry_in` is None. Returns the outcome ("retry" or "dead"), or None if the fence refused it."""
    async with rt.uow() as uow:
        if retry_in is None:
            ok = await _finish(uow, job, state=JobState.DEAD, error=error, outcome="dead")
        else:
            ok = await _finish(
                uow,
                job,
                state=JobState.QUEUED,
                error=error,
                outcome="retry",
                run_at=uow.now + timedelta(seconds=retry_in),
            )
        await uow.commit()
    if not ok:
        return None
    return "dead" if retry_in is None else "retry"


async def _finish(
    uow: UnitOfWork,
    job: ClaimedJob,
    *,
    state: JobState,
    error: str | None,
    outcome: str,
    run_at: datetime | None = None,
) -> bool:
    values: dict[str, Any] = {"state": state.value, "last_error": error, "lease_until": None, "updated_at": uow.now}
    if state in (JobState.DONE, JobState.DEAD):
        values["finished_at"] = uow.now
    if run_at is not None:
        values["run_at"] = run_at
    res = await uow.conn.execute(sa.update(Job).where(_running(job)).values(**values).returning(Job.id))
    ok = res.first() is not None
    await _log_attempt(uow, job, outcome=outcome if ok else "stale", error=error)
    return ok


async def _log_attempt(uow: UnitOfWork, job: ClaimedJob, *, outcome: str, error: str | None) -> None:
    insert = postgresql.insert(JobAttempt) if uow.dialect == "postgresql" else sqlite.insert(JobAttempt)
    await uow.conn.execute(
        insert.values(
            job_id=job.id,
            attempt=job.attempt,
            worker=job.worker,
            started_at=job.claimed_at,
            finished_at=uow.now,
            outcome=outcome,
            error=error,
        ).on_conflict_do_nothing()
    )


async def release(rt: Runtime, jobs: Sequence[ClaimedJob]) -> int:
    """Hand unfinished jobs back at shutdown: queued, due now, the attempt not counted, so another
    worker takes them at once. Fenced like every other write. Returns how many were released."""
    n = 0
    async with rt.uow() as uow:
        for job in jobs:
            res = await uow.conn.execute(
                sa.update(Job)
                .where(_running(job))
                .values(
                    state=JobState.QUEUED.value,
                    run_at=uow.now,
                    attempts=Job.attempts - 1,
                    lease_until=None,
                    updated_at=uow.now,
                )
                .returning(Job.id)
            )
            n += res.first() is not None
        await uow.commit()
    return n


async def purge_finished(uow: UnitOfWork, *, limit: int = 1000) -> int:
    """Delete up to `limit` done jobs (and their attempt log) finished more than
    `settings.job_retention_days` ago. Dead jobs are kept until an operator deals with them."""
    cutoff = uow.now - timedelta(days=uow.rt.settings.job_retention_days)
    ids = list(
        (
            await uow.conn.scalars(
                sa.select(Job.id).where(Job.state == JobState.DONE.value, Job.finished_at < cutoff).limit(limit)
            )
        ).all()
    )
    if ids:
        await uow.conn.execute(sa.delete(JobAttempt).where(JobAttempt.job_id.in_(ids)))
        await uow.conn.execute(sa.delete(Job).where(Job.id.in_(ids)))
    return len(ids)


async def purge_all_finished(rt: Runtime) -> int:
    """`purge_finished` batch after batch, a transaction each, until none is left; how many."""
    total = 0
    while n := await rt.transact(purge_finished):
        total += n
    return total


async def claim_schedule(rt: Runtime, name: str, *, interval: float, worker: str) -> bool:
    """Claim periodic task `name` if it is due and nobody is running it; moves `next_run_at` one
    interval on, in the same statement, so exactly one worker wins each interval."""
    async with rt.uow() as uow:
        now = uow.now
        insert = postgresql.insert(Schedule) if uow.dialect == "postgresql" else sqlite.insert(Schedule)
        await uow.conn.execute(insert.values(name=name, next_run_at=now).on_conflict_do_nothing())
        res = await uow.conn.execute(
            sa.update(Schedule)
            .where(
                Schedule.name == name,
                Schedule.next_run_at <= now,
                sa.or_(Schedule.lease_until.is_(None), Schedule.lease_until < now),
            )
            .values(
                next_run_at=now + timedelta(seconds=interval),
                lease_until=now + timedelta(seconds=rt.settings.job_lease_seconds),
                locked_by=worker,
                last_run_at=now,
            )
            .returning(Schedule.name)
        )
        won = res.first() is not None
        await uow.commit()
    return won


async def finish_schedule(rt: Runtime, name: str, *, worker: str) -> None:
    """Free the schedule's lease after a run (whether it succeeded or not)."""
    async with rt.uow() as uow:
        await uow.conn.execute(
            sa.update(Schedule).where(Schedule.name == name, Schedule.locked_by == worker).values(lease_until=None)
        )
        await uow.commit()
