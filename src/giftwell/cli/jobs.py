"""`giftwell jobs ...`: look at background jobs and revive dead ones (`giftwell worker`, which
runs them, is in `serving`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from giftwell.cli.common import JsonOpt, run
from giftwell.cli.output import emit
from giftwell.services.queue import jobs, workers
from giftwell.store.uow import UnitOfWork

jobs_app = typer.Typer(help="Background jobs: list, show, retry dead ones.", no_args_is_help=True)


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
    found = run(lambda rt: rt.transact(lambda uow: jobs.list_jobs(uow, state=state, kind=kind, limit=limit)), as_json)
    emit(
        {"jobs": [j.as_dict() for j in found]},
        as_json,
        lambda _d: "\n".join(_line(j) for j in found) if found else "no jobs",
    )


@jobs_app.command("show")
def jobs_show(job_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOpt = False) -> None:
    """Show one job and its attempt log."""

    async def show(uow: UnitOfWork) -> dict[str, Any]:
        job = await jobs.get(uow, job_id)
        return {**job.as_dict(), "attempt_log": [a.as_dict() for a in await jobs.attempts(uow, job_id)]}

    data = run(lambda rt: rt.transact(show), as_json)

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
    job = run(lambda rt: rt.transact(lambda uow: jobs.retry(uow, job_id, extra_attempts=attempts)), as_json)
    emit(
        job.as_dict(),
        as_json,
        lambda d: f"job {d['id']} queued again: {d['max_attempts'] - d['attempts']} more attempt(s) allowed",
    )


@jobs_app.command("workers")
def jobs_workers(as_json: JsonOpt = False) -> None:
    """Job workers seen in the last day: alive (beat within one job lease), stopped (cleanly), or
    silent (killed or cut off: their jobs are claimed again once their leases pass)."""
    found = run(lambda rt: rt.transact(workers.list_workers), as_json)

    def line(w: workers.WorkerView) -> str:
        return (
            f"{w.id}  {w.status:<7}  {w.role:<6}  pid {w.pid}  {w.running_jobs}/{w.concurrency} running"
            f"  last beat {w.heartbeat_at:%Y-%m-%d %H:%M:%S}"
        )

    emit(
        {"workers": [w.as_dict() for w in found]},
        as_json,
        lambda _d: "\n".join(line(w) for w in found) if found else "no workers seen in the last day",
    )
