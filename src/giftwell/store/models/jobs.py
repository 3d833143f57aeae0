"""Background jobs (the job queue, written in the caller's transaction), their attempt log, and periodic schedules.

A job row is written in the same transaction as the change that causes it, so a crash can delay
the work but never lose it. See docs/architecture.md, "Background jobs".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base


class Job(Base):
    __tablename__ = "jobs"
    # The claim query reads (state, run_at) for due jobs and (state, lease_until) for abandoned ones.
    __table_args__ = (
        Index("ix_jobs_state_run_at", "state", "run_at"),
        Index("ix_jobs_state_lease", "state", "lease_until"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(12))
    run_at: Mapped[datetime]
    attempts: Mapped[int]
    max_attempts: Mapped[int]
    lease_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(100))
    # Redacted and truncated (domain.jobs.describe_error): never a secret, never a stack trace.
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    account_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class JobAttempt(Base):
    """One row per attempt that reached an outcome (done, retry, dead, released, stale)."""

    __tablename__ = "job_attempts"

    job_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    attempt: Mapped[int] = mapped_column(primary_key=True)
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(12))
    error: Mapped[str | None] = mapped_column(Text)


class Schedule(Base):
    """A periodic task: whichever worker claims it once `next_run_at` passes runs it, once."""

    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    next_run_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_run_at: Mapped[datetime | None]


class WorkerBeat(Base):
    """A job worker's registration and heartbeat (`giftwell jobs workers`): written when it starts,
    renewed every third of the job lease, stamped `stopped_at` when it stops cleanly. `role` is
    `server` for a worker inside `giftwell serve`, `worker` for `giftwell worker`."""

    __tablename__ = "worker_beats"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(12))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    concurrency: Mapped[int]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime] = mapped_column(index=True)
    stopped_at: Mapped[datetime | None]
