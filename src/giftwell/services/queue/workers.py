"""Job workers as the database sees them: registrations and heartbeats (`giftwell jobs workers`,
`/readyz`), the queue's figures for `/metrics`, and the embedded server's recovery of the jobs
its previous incarnation held.

A worker registers when it starts, beats every third of the job lease (while idle too), and
stamps `stopped_at` when it stops cleanly (after handing its unfinished jobs back). A worker
killed with SIGKILL stops beating: its row shows the last beat, and its jobs are claimed again
once their leases pass, by any worker (PostgreSQL), or at once by the next embedded server
(`reclaim_from_dead_servers`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from giftwell.domain.jobs import JobState
from giftwell.services.runtime import Runtime
from giftwell.store.models import Job, Schedule, WorkerBeat
from giftwell.store.uow import UnitOfWork

SERVER = "server"
WORKER = "worker"
# Stopped and long-silent workers are listed for a day, then forgotten (the list stays short).
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class WorkerView:
    id: str
    role: str
    hostname: str
    pid: int
    concurrency: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    running_jobs: int
    status: str  # alive, stopped, silent (no beat for a lease: killed, or cut off)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "hostname": self.hostname,
            "pid": self.pid,
            "concurrency": self.concurrency,
            "started_at": self.started_at.isoformat(),
            "heartbeat_at": self.heartbeat_at.isoformat(),
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "running_jobs": self.running_jobs,
            "status": self.status,
        }


def _insert(uow: UnitOfWork) -> Any:
    return postgresql.insert(WorkerBeat) if uow.dialect == "postgresql" else sqlite.insert(WorkerBeat)


async def beat(rt: Runtime, worker_id: str, *, role: str, concurrency: int) -> None:
    """Register the worker, or renew its heartbeat (an upsert: a worker whose first beat failed
    while the database was away registers at its next)."""
    async with rt.uow() as uow:
        values = {
            "id": worker_id,
            "role": role,
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "concurrency": concurrency,
            "started_at": uow.now,
            "heartbeat_at": uow.now,
            "stopped_at": None,
        }
        stmt = _insert(uow).values(**values)
        await uow.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[WorkerBeat.id], set_={"heartbeat_at": uow.now, "stopped_at": None}
            )
        )
        # Keep the table short: forget workers gone for a day.
        await uow.conn.execute(sa.delete(WorkerBeat).where(WorkerBeat.heartbeat_at < uow.now - FORGET_AFTER))
        await uow.commit()


async def stopped(rt: Runtime, worker_id: str) -> None:
    async with rt.uow() as uow:
        await uow.conn.execute(
            sa.update(WorkerBeat).where(WorkerBeat.id == worker_id).values(heartbeat_at=uow.now, stopped_at=uow.now)
        )
        await uow.commit()


async def list_workers(uow: UnitOfWork) -> list[WorkerView]:
    """Every worker seen in the last day, newest first, with the jobs it holds now."""
    lease = timedelta(seconds=uow.rt.settings.job_lease_seconds)
    held = {
        r[0]: int(r[1])
        for r in await uow.conn.execute(
            sa.select(Job.locked_by, sa.func.count()).where(Job.state == JobState.RUNNING.value).group_by(Job.locked_by)
        )
    }
    rows = (await uow.conn.execute(sa.select(WorkerBeat).order_by(WorkerBeat.started_at.desc()))).all()
    out = []
    for r in rows:
        if r.stopped_at is not None:
            status = "stopped"
        elif r.heartbeat_at >= uow.now - lease:
            status = "alive"
        else:
            status = "silent"
        out.append(
            WorkerView(
                r.id,
                r.role,
                r.hostname,
                r.pid,
                r.concurrency,
                r.started_at,
                r.heartbeat_at,
                r.stopped_at,
                int(held.get(r.id, 0)),
                status,
            )
        )
    return out


async def alive_count(uow: UnitOfWork) -> int:
    """Workers whose last beat is within one job lease."""
    since = uow.now - timedelta(seconds=uow.rt.settings.job_lease_seconds)
    n = await uow.conn.scalar(
        sa.select(sa.func.count()).where(WorkerBeat.heartbeat_at >= since, WorkerBeat.stopped_at.is_(None))
    )
    return int(n or 0)


async def reclaim_from_dead_servers(rt: Runtime, *, hostname: str | None = None) -> int:
    """Make the jobs that earlier embedded servers on this host held claimable now, not when their
    leases pass. Only for the one process that holds the embedded database's lock (`giftwell
    serve` on SQLite): holding it proves no other server runs on this file, so every other
    `server` registration of this host that did not stop cleanly is a dead one. Workers started
    apart (`giftwell worker`) are left alone: they may be alive. The reclaimed attempt counts,
    as after any expired lease (a job that killed its worker on its last attempt goes dead)."""
    host = hostname or socket.gethostname()[:255]
    async with rt.uow() as uow:
        dead = (
            sa.select(WorkerBeat.id)
            .where(WorkerBeat.role == SERVER, WorkerBeat.hostname == host, WorkerBeat.stopped_at.is_(None))
            .scalar_subquery()
        )
        res = await uow.conn.execute(
            sa.update(Job)
            .where(Job.state == JobState.RUNNING.value, Job.locked_by.in_(dead))
            .values(lease_until=uow.now, updated_at=uow.now)
            .returning(Job.id)
        )
        n = len(res.all())
        await uow.conn.execute(sa.update(Schedule).where(Schedule.locked_by.in_(dead)).values(lease_until=None))
        await uow.conn.execute(
            sa.update(WorkerBeat)
            .where(WorkerBeat.role == SERVER, WorkerBeat.hostname == host, WorkerBeat.stopped_at.is_(None))
            .values(stopped_at=uow.now)
        )
        await uow.commit()
    return n


@dataclass(frozen=True, slots=True)
class QueueStats:
    """By job kind: jobs queued (due or not), running, dead, and the age in seconds of the oldest
    job that is due and not yet claimed."""

    queued: dict[str, int]
    running: dict[str, int]
    dead: dict[str, int]
    oldest_due_age: dict[str, float]
    workers_alive: int


async def queue_stats(uow: UnitOfWork) -> QueueStats:
    states = (JobState.QUEUED.value, JobState.RUNNING.value, JobState.DEAD.value)
    counts = (
        await uow.conn.execute(
            sa.select(Job.kind, Job.state, sa.func.count()).where(Job.state.in_(states)).group_by(Job.kind, Job.state)
        )
    ).all()
    by: dict[str, dict[str, int]] = {s: {} for s in states}
    for kind, state, n in counts:
        by[state][kind] = int(n)
    due = (
        await uow.conn.execute(
            sa.select(Job.kind, sa.func.min(Job.run_at))
            .where(Job.state == JobState.QUEUED.value, Job.run_at <= uow.now)
            .group_by(Job.kind)
        )
    ).all()
    oldest = {kind: max(0.0, (uow.now - at).total_seconds()) for kind, at in due}
    return QueueStats(
        by[JobState.QUEUED.value],
        by[JobState.RUNNING.value],
        by[JobState.DEAD.value],
        oldest,
        await alive_count(uow),
    )
