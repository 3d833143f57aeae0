"""Background jobs, the caller's side: enqueue work in your own transaction; list, show and retry.

`enqueue` writes a job row in the caller's unit of work (the job queue, written in the caller's transaction): if the
transaction commits, the job exists and some worker will run it; if it rolls back, the job never
existed. A crash between the two cannot lose it or run it for a change that did not happen.

Jobs run **at least once**: a worker may die after a handler's effect committed but before the
job was marked done, and then the job runs again. Every handler must be idempotent; see
`giftwell.jobs.handlers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from giftwell.domain.errors import InvalidState, NotFound, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.domain.jobs import JobState
from giftwell.store.models import Job, JobAttempt
from giftwell.store.uow import UnitOfWork

MAX_LIST = 500


@dataclass(frozen=True, slots=True)
class JobView:
    id: str
    kind: str
    state: str
    payload: dict[str, Any]
    run_at: datetime
    attempts: int
    max_attempts: int
    lease_until: datetime | None
    locked_by: str | None
    last_error: str | None
    dedupe_key: str | None
    account_id: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "payload": self.payload,
            "run_at": self.run_at.isoformat(),
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "lease_until": self.lease_until.isoformat() if self.lease_until else None,
            "locked_by": self.locked_by,
            "last_error": self.last_error,
            "dedupe_key": self.dedupe_key,
            "account_id": self.account_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


@dataclass(frozen=True, slots=True)
class AttemptView:
    attempt: int
    worker: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "worker": self.worker,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "outcome": self.outcome,
            "error": self.error,
        }


async def enqueue(
    uow: UnitOfWork,
    kind: str,
    payload: dict[str, Any],
    *,
    run_at: datetime | None = None,
    delay: float | None = None,
    dedupe_key: str | None = None,
    max_attempts: int | None = None,
    account_id: str | None = None,
) -> str:
    """Add a job to the caller's transaction and return its id.

    - `payload` is stored as JSON: put ids in it, never secrets (card codes, PINs, tokens).
    - `run_at` (or `delay` seconds from now) defers it; default: due now.
    - `dedupe_key`: a second enqueue with the same key (in any state, for as long as the job row
      is kept) adds nothing and returns the existing job's id.
    - `max_attempts`: default `settings.job_max_attempts`; after that many failures it goes dead.

    After the commit, an in-process worker is woken so a job due now starts at once.
    """
    if run_at is not None and delay is not None:
        raise ValueError("give run_at or delay, not both")
    if run_at is not None and run_at.tzinfo is None:
        raise ValueError("run_at must be timezone-aware")
    now = uow.now
    due = run_at if run_at is not None else now + timedelta(seconds=delay or 0)
    attempts = max_attempts if max_attempts is not None else uow.rt.settings.job_max_attempts
    if attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    job_id = new_id("job")
    values: dict[str, Any] = {
        "id": job_id,
        "kind": kind,
        "payload": payload,
        "state": JobState.QUEUED.value,
        "run_at": due,
        "attempts": 0,
        "max_attempts": attempts,
        "dedupe_key": dedupe_key,
        "account_id": account_id,
        "created_at": now,
        "updated_at": now,
    }
    if dedupe_key is None:
        await uow.conn.execute(sa.insert(Job).values(**values))
    else:
        insert = postgresql.insert(Job) if uow.dialect == "postgresql" else sqlite.insert(Job)
        stmt = insert.values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Job.id)
        if (await uow.conn.execute(stmt)).first() is None:
            existing = await uow.conn.scalar(sa.select(Job.id).where(Job.dedupe_key == dedupe_key))
            assert existing is not None  # the conflict was on this key; the row is committed
            return str(existing)
    if due <= now:
        wakeup = uow.rt.jobs_wakeup

        async def wake() -> None:
            wakeup.set()

        uow.after_commit(wake)
    return job_id


async def get(uow: UnitOfWork, job_id: str) -> JobView:
    """One job by id; NotFound if there is none."""
    row = (await uow.conn.execute(sa.select(Job).where(Job.id == job_id))).first()
    if row is None:
        raise NotFound(f"no job {job_id}", param="id")
    return _view(row)


async def list_jobs(
    uow: UnitOfWork, *, state: str | None = None, kind: str | None = None, limit: int = 50
) -> list[JobView]:
    """Jobs, newest first, optionally of one state and kind (at most MAX_LIST)."""
    q = sa.select(Job)
    if state is not None:
        if state not in {s.value for s in JobState}:
            raise ValidationFailed(f"state must be one of {', '.join(s.value for s in JobState)}", param="state")
        q = q.where(Job.state == state)
    if kind is not None:
        q = q.where(Job.kind == kind)
    q = q.order_by(Job.created_at.desc(), Job.id.desc()).limit(max(1, min(limit, MAX_LIST)))
    return [_view(r) for r in (await uow.conn.execute(q)).all()]


async def attempts(uow: UnitOfWork, job_id: str) -> list[AttemptView]:
    """The attempt log of one job, oldest first."""
    rows = await uow.conn.execute(sa.select(JobAttempt).where(JobAttempt.job_id == job_id).order_by(JobAttempt.attempt))
    return [AttemptView(r.attempt, r.worker, r.started_at, r.finished_at, r.outcome, r.error) for r in rows.all()]


async def retry(uow: UnitOfWork, job_id: str, *, extra_attempts: int | None = None) -> JobView:
    """Revive a dead job: queued, due now, with `extra_attempts` more tries (default
    `settings.job_max_attempts`).

    The attempt count is kept, not reset, and `max_attempts` is raised instead, so the job's
    history (and its attempt log, numbered by attempt) stays whole. Only a dead job can be
    retried (InvalidState otherwise); the update is guarded on the state, so two operators
    retrying at once revive it once.
    """
    extra = extra_attempts if extra_attempts is not None else uow.rt.settings.job_max_attempts
    if extra < 1:
        raise ValidationFailed("extra attempts must be at least 1", param="attempts")
    res = await uow.conn.execute(
        sa.update(Job)
        .where(Job.id == job_id, Job.state == JobState.DEAD.value)
        .values(
            state=JobState.QUEUED.value,
            run_at=uow.now,
            max_attempts=Job.attempts + extra,
            lease_until=None,
            locked_by=None,
            finished_at=None,
            updated_at=uow.now,
        )
        .returning(Job.id)
    )
    if res.first() is None:
        job = await get(uow, job_id)
        raise InvalidState(f"job {job_id} is {job.state}; only a dead job can be retried", state=job.state)
    wakeup = uow.rt.jobs_wakeup

    async def wake() -> None:
        wakeup.set()

    uow.after_commit(wake)
    return await get(uow, job_id)


def _view(r: Any) -> JobView:
    return JobView(
        id=r.id,
        kind=r.kind,
        state=r.state,
        payload=r.payload,
        run_at=r.run_at,
        attempts=r.attempts,
        max_attempts=r.max_attempts,
        lease_until=r.lease_until,
        locked_by=r.locked_by,
        last_error=r.last_error,
        dedupe_key=r.dedupe_key,
        account_id=r.account_id,
        created_at=r.created_at,
        updated_at=r.updated_at,
        finished_at=r.finished_at,
    )
