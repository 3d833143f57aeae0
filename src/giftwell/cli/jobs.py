"""`giftwell worker` and `giftwell jobs ...`: run background jobs, look at them, revive dead ones.

The shared CLI helpers live in `giftwell.cli.main`, imported inside the commands so that either
module can be imported first.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated, Any

import typer
from sqlalchemy.exc import DBAPIError

from giftwell.cli.output import emit, fail
from giftwell.domain.errors import GiftwellError
from giftwell.services.queue import jobs
from giftwell.services.runtime import Runtime
from giftwell.store.uow import UnitOfWork

jobs_app = typer.Typer(help="Background jobs: list, show, retry dead ones.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def worker(
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Jobs run at once (default GIFTWELL_WORKER_CONCURRENCY).")
    ] = None,
    poll_interval: Annotated[
        float | None, typer.Option(min=0.01, help="Seconds between polls when idle (default 1).")
    ] = None,
    json_logs: Annotated[bool, typer.Option("--json-logs", help="Log one JSON object per line.")] = False,
) -> None:
    """Run a job worker alone (jobs and periodic sweeps) until SIGTERM or SIGINT.

    Run as many as you like, on as many machines: they coordinate through the database. On a
    signal the worker stops claiming, waits GIFTWELL_WORKER_SHUTDOWN_GRACE_SECONDS for jobs in
    flight, then hands the rest back to the queue for another worker.
    """
    from giftwell.cli import main as cli
    from giftwell.jobs.worker import Worker
    from giftwell.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc), False, code=2)
    cli._logging(settings, json_logs=json_logs)

    async def run() -> None:
        rt = Runtime(settings)
        try:
            await cli._ready(rt)
            w = Worker(rt, concurrency=concurrency, poll_interval=poll_interval)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, w.stop)
            await w.run()
        finally:
            await rt.close()

    try:
        asyncio.run(run())
    except GiftwellError as exc:
        fail(exc, False)
    except (DBAPIError, OSError) as exc:
        # Unreachable at start (or lost for good): one line, as `giftwell serve` says it.
        fail(f"database error: {cli._first_line(exc)}", False, code=2)


def _line(j: jobs.JobView) -> str:
    err = f"  {j.last_error[:80]}" if j.last_error else ""
    return f"{j.id}  {j.state:<7}  {j.kind}  {j.attempts}/{j.max_attempts}  run_at {j.run_at:%Y-%m-%d %H:%M:%S}{err}"


@jobs_app.command("list")
def jobs_list(
    state: Annotated[str | None, typer.Option(help="queued, running, done or dead.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only jobs of this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=jobs.MAX_LIST, help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List jobs, newest first."""
    from giftwell.cli import main as cli

    found = cli._run(
        lambda rt: cli._in_tx(rt, lambda uow: jobs.list_jobs(uow, state=state, kind=kind, limit=limit)), as_json
    )
    emit(
        {"jobs": [j.as_dict() for j in found]},
        as_json,
        lambda _d: "\n".join(_line(j) for j in found) if found else "no jobs",
    )


@jobs_app.command("show")
def jobs_show(job_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOpt = False) -> None:
    """Show one job and its attempt log."""
    from giftwell.cli import main as cli

    async def show(uow: UnitOfWork) -> dict[str, Any]:
        job = await jobs.get(uow, job_id)
        return {**job.as_dict(), "attempt_log": [a.as_dict() for a in await jobs.attempts(uow, job_id)]}

    data = cli._run(lambda rt: cli._in_tx(rt, show), as_json)

    def human(d: dict[str, Any]) -> str:
        lines = [f"{k}: {v}" for k, v in d.items() if k != "attempt_log"]
        lines += [
            f"  attempt {a['attempt']}: {a['outcome']} by {a['worker']} at {a['finished_at']}"
            + (f": {a['error']}" if a["error"] else "")
            for a in d["attempt_log"]
        ]
        return "\n".join(lines)

    emit(data, as_json, human)


@jobs_app.command("retry")
def jobs_retry(
    job_id: Annotated[str, typer.Argument(metavar="ID")],
    attempts: Annotated[
        int | None, typer.Option(min=1, help="Tries to allow from now (default GIFTWELL_JOB_MAX_ATTEMPTS).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Revive a dead job: queued, due now (attempts kept; max_attempts raised by --attempts)."""
    from giftwell.cli import main as cli

    job = cli._run(lambda rt: cli._in_tx(rt, lambda uow: jobs.retry(uow, job_id, extra_attempts=attempts)), as_json)
    emit(
        job.as_dict(),
        as_json,
        lambda d: f"job {d['id']} queued again: {d['max_attempts'] - d['attempts']} more attempt(s) allowed",
    )
