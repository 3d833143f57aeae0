"""Periodic tasks, run by the workers through the `schedules` table.

Each task has a row; whichever worker claims it once `next_run_at` has passed runs it, and the
same statement moves `next_run_at` one interval on, so with any number of workers each task runs
once per interval. A run that crashes is not retried before the next interval: periodic tasks
are sweeps, and the next one picks up what this one missed. They must be safe to run twice at
once all the same (a run outliving its lease may overlap the next): every sweep step is guarded.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from giftwell.services.queue import claims
from giftwell.services.runtime import Runtime
from giftwell.services.sweep import sweep_once
from giftwell.services.webhooks import retention
from giftwell.settings import Settings

log = logging.getLogger("giftwell.schedules")


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str
    interval: Callable[[Settings], float]
    run: Callable[[Runtime], Awaitable[object]]


async def sweep(rt: Runtime) -> object:
    """Expire cards due, void stale holds, purge old idempotency keys."""
    r = await sweep_once(rt)
    if r.cards_expired or r.holds_expired:
        log.info("swept: %d cards expired, %d holds expired", r.cards_expired, r.holds_expired)
    return r


async def purge_jobs(rt: Runtime) -> object:
    """Delete done jobs older than `settings.job_retention_days`, a batch per transaction."""
    total = await claims.purge_all_finished(rt)
    if total:
        log.info("purged %d finished jobs", total)
    return total


async def retain(rt: Runtime) -> object:
    """Purge old webhook attempts, and old events if a retention is set."""
    r = await retention.purge(rt)
    if r.webhook_attempts or r.events:
        log.info("purged %d webhook attempts and %d events", r.webhook_attempts, r.events)
    return r


PERIODIC: tuple[Periodic, ...] = (
    Periodic("sweep", lambda s: s.sweep_interval_seconds, sweep),
    Periodic("jobs.purge", lambda s: 3600.0, purge_jobs),
    Periodic("retention", lambda s: 3600.0, retain),
)
