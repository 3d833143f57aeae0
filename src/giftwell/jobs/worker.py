"""The job worker: claims due jobs, runs their handlers, records each attempt's outcome, keeps
leases alive while handlers run, and runs the periodic tasks.

`giftwell serve` runs one in-process (embedded default); `giftwell worker` runs one alone, and
any number of them may run on any number of machines. Tests drive it with `await run_once()`.

Every time written to the database comes from `rt.clock` (a FakeClock in tests); only sleeping
between polls and heartbeats uses real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Iterable, Mapping

from giftwell.domain.errors import DatabaseUnavailable
from giftwell.domain.jobs import PermanentFailure, RetryLater, backoff_delay, describe_error, redact
from giftwell.jobs.handlers import Handler, registry
from giftwell.jobs.schedules import PERIODIC, Periodic
from giftwell.services.queue import claims, workers
from giftwell.services.queue.claims import ClaimedJob
from giftwell.services.runtime import Runtime
from giftwell.telemetry import logs, metrics

log = logging.getLogger("giftwell.worker")

# run_once stops after this many claim rounds, so a handler that keeps asking to run again at
# once (a clock that does not move) cannot keep a test in it forever.
MAX_ROUNDS = 1000


class Worker:
    """A job worker. `handlers` defaults to the registry (`giftwell.jobs.handlers`), `periodic`
    to the built-in periodic tasks; `rng` drives the retry jitter (seed it in tests)."""

    def __init__(
        self,
        rt: Runtime,
        handlers: Mapping[str, Handler] | None = None,
        *,
        periodic: Iterable[Periodic] | None = None,
        concurrency: int | None = None,
        poll_interval: float | None = None,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        role: str = workers.WORKER,
    ) -> None:
        self.rt = rt
        self.handlers = dict(registry() if handlers is None else handlers)
        self.periodic = tuple(PERIODIC if periodic is None else periodic)
        self.concurrency = concurrency or rt.settings.worker_concurrency
        self.poll_interval = poll_interval or rt.settings.worker_poll_interval_seconds
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._rng = rng or random.SystemRandom()
        self._inflight: dict[asyncio.Task[None], ClaimedJob] = {}
        self._stopping = asyncio.Event()
        self._periodic_task: asyncio.Task[None] | None = None
        self._periodic_checked = float("-inf")
        self.role = role
        # When this worker last wrote its heartbeat (time.monotonic()), for /readyz; None before.
        self.last_beat: float | None = None

    # -- driving it ---------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Run the periodic tasks that are due, then every job due now, batch by batch, until
        none is left; returns how many attempts were made. Jobs that fail are rescheduled (at
        least a second later by `rt.clock`), so they do not run again in the same call."""
        await self._run_periodic()
        done = 0
        for _ in range(MAX_ROUNDS):
            batch = await claims.claim(self.rt, worker=self.id, limit=self.concurrency)
            if not batch:
                break
            await asyncio.gather(*(self._execute(job) for job in batch))
            done += len(batch)
        return done

    def stop(self) -> None:
        """Ask `run()` to stop claiming, finish (or release) what it holds, and return."""
        self._stopping.set()
        self.rt.jobs_wakeup.set()

    async def run(self) -> None:
        """Work until `stop()`. On stop: wait up to `worker_shutdown_grace_seconds` for in-flight
        jobs, then cancel the rest and release them so another worker takes them at once."""
        log.info("worker %s started (concurrency %d)", self.id, self.concurrency)
        await self._beat()
        beat = asyncio.create_task(self._heartbeat_loop())
        try:
            while not self._stopping.is_set():
                # Cleared before claiming: an enqueue committed while we claim sets it again and
                # the wait below returns at once.
                self.rt.jobs_wakeup.clear()
                free = self.concurrency - len(self._inflight)
                claimed = 0
                if free > 0:
                    try:
                        batch = await claims.claim(self.rt, worker=self.id, limit=free)
                    except DatabaseUnavailable:
                        # Expected while the database restarts: one line, no traceback.
                        log.warning("the database is unavailable; claiming again in %.1fs", self.poll_interval)
                        batch = []
                    except Exception:
                        log.exception("claiming jobs failed; retrying in %.1fs", self.poll_interval)
                        batch = []
                    for job in batch:
                        task = asyncio.create_task(self._execute(job), name=f"job:{job.id}")
                        self._inflight[task] = job
                        task.add_done_callback(self._done)
                    claimed = len(batch)
                self._maybe_start_periodic()
                if claimed and claimed == free:
                    continue  # a full batch: more may be due
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.rt.jobs_wakeup.wait(), self.poll_interval)
        finally:
            await self._shutdown()
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            try:
                await workers.stopped(self.rt, self.id)
            except Exception:
                log.warning("worker %s: recording its stop failed (the database is unreachable)", self.id)
            log.info("worker %s stopped", self.id)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        # A slot is free: let the loop claim again without waiting for the poll.
        self.rt.jobs_wakeup.set()

    async def _shutdown(self) -> None:
        grace = self.rt.settings.worker_shutdown_grace_seconds
        pending = [t for t in (*self._inflight, self._periodic_task) if t is not None and not t.done()]
        if pending:
            log.info("waiting up to %.0fs for %d in-flight task(s)", grace, len(pending))
            _, still = await asyncio.wait(pending, timeout=grace)
            if still:
                unfinished = [self._inflight[t] for t in still if t in self._inflight]
                for t in still:
                    t.cancel()
                await asyncio.gather(*still, return_exceptions=True)
                if unfinished:
                    n = await claims.release(self.rt, unfinished)
                    log.warning("released %d unfinished job(s) to other workers", n)

    # -- one attempt --------------------------------------------------------------------------

    async def _execute(self, job: ClaimedJob) -> None:
        """Run one claimed job and record the outcome. Never raises (but for cancellation). Every
        record logged meanwhile carries the job's id, kind and attempt."""
        try:
            with logs.bind(job_id=job.id, job_kind=job.kind, attempt=job.attempt):
                await self._attempt(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Recording the outcome failed (the database went away): the job keeps its lease and
            # is claimed again once that passes.
            log.exception("job %s: recording the outcome of attempt %d failed", job.id, job.attempt)

    async def _attempt(self, job: ClaimedJob) -> None:
        tag = f"job {job.id} ({job.kind}) attempt {job.attempt}/{job.max_attempts}"
        if job.attempt > job.max_attempts:
            # Claimed again after its lease ran out on the last allowed attempt: the worker died
            # running it, perhaps because of it. Running it again could crash the next one too.
            error = "lease expired on the last attempt (the worker running it died or was killed)"
            await self._record_failure(job, tag, error, retry_in=None)
            return
        fn = self.handlers.get(job.kind)
        if fn is None:
            await self._record_failure(job, tag, f"no handler for job kind {job.kind!r}", retry_in=None)
            return
        started = time.monotonic()
        log.debug("%s started", tag)
        timeout = self.rt.settings.job_timeout_seconds
        secrets_ = (self.rt.settings.secret, *self.rt.settings.previous_secrets)
        try:
            async with asyncio.timeout(timeout) as cm:
                await fn(self.rt, job)
        except RetryLater as exc:
            delay = exc.delay if job.attempt < job.max_attempts else None
            await self._record_failure(job, tag, redact(exc.reason, secrets=secrets_), retry_in=delay)
        except PermanentFailure as exc:
            await self._record_failure(job, tag, redact(exc.reason, secrets=secrets_), retry_in=None)
        except Exception as exc:
            error = f"timed out after {timeout:g}s" if cm.expired() else describe_error(exc, secrets=secrets_)
            await self._record_failure(job, tag, error, retry_in=self._backoff(job))
        else:
            elapsed = time.monotonic() - started
            if await claims.complete(self.rt, job):
                metrics.job_outcome(job.kind, "done")
                log.info("%s done in %.2fs", tag, elapsed, extra={"duration_ms": round(elapsed * 1000, 3)})
            else:
                metrics.job_outcome(job.kind, "stale")
                log.warning("%s finished after its lease was taken over; its result was refused", tag)

    def _backoff(self, job: ClaimedJob) -> float | None:
        if job.attempt >= job.max_attempts:
            return None
        s = self.rt.settings
        return backoff_delay(
            job.attempt, base=s.job_backoff_base_seconds, cap=s.job_backoff_cap_seconds, rand=self._rng.random()
        )

    async def _record_failure(self, job: ClaimedJob, tag: str, error: str, *, retry_in: float | None) -> None:
        outcome = await claims.fail(self.rt, job, error=error, retry_in=retry_in)
        metrics.job_outcome(job.kind, outcome or "stale")
        if outcome == "retry":
            log.warning("%s failed, retrying in %.1fs: %s", tag, retry_in, error)
        elif outcome == "dead":
            log.error("%s failed, job is dead: %s", tag, error)
        else:
            log.warning("%s failed after its lease was taken over (result refused): %s", tag, error)

    # -- leases -------------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        """Renew the leases of in-flight jobs every third of the lease; cancel any job whose
        lease was lost (another worker has it now, and our result would be refused anyway)."""
        interval = self.rt.settings.job_lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            await self._beat()
            held = dict(self._inflight)
            if not held:
                continue
            try:
                kept = await claims.heartbeat(self.rt, list(held.values()))
            except Exception:
                log.exception("renewing job leases failed")
                continue
            for task, job in held.items():
                if job.id not in kept and not task.done():
                    log.warning("job %s: lease lost to another worker; stopping our attempt %d", job.id, job.attempt)
                    task.cancel()

    async def _beat(self) -> None:
        """This worker's own heartbeat (`giftwell jobs workers`, /readyz); a failure is logged and
        the next beat tries again (the database may be restarting)."""
        try:
            await workers.beat(self.rt, self.id, role=self.role, concurrency=self.concurrency)
        except Exception:
            log.warning("worker %s: heartbeat failed (the database is unreachable?)", self.id)
            return
        self.last_beat = time.monotonic()

    # -- periodic tasks -----------------------------------------------------------------------

    def _maybe_start_periodic(self) -> None:
        if self._periodic_task is not None and not self._periodic_task.done():
            return
        if time.monotonic() - self._periodic_checked < self.poll_interval:
            return
        self._periodic_checked = time.monotonic()
        self._periodic_task = asyncio.create_task(self._run_periodic(), name="periodic")

    async def _run_periodic(self) -> None:
        for task in self.periodic:
            try:
                interval = task.interval(self.rt.settings)
                if not await claims.claim_schedule(self.rt, task.name, interval=interval, worker=self.id):
                    continue
            except Exception:
                log.exception("claiming periodic task %s failed", task.name)
                continue
            try:
                await task.run(self.rt)
            except Exception:
                log.exception("periodic task %s failed; next run in %.0fs", task.name, interval)
            finally:
                with contextlib.suppress(Exception):
                    await claims.finish_schedule(self.rt, task.name, worker=self.id)
