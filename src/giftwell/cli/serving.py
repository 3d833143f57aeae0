"""Running Giftwell: `serve` (the API, pages and, in the embedded default, the worker), `worker`
alone, and `demo`, the first-run account `make run` makes."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from giftwell.app import build_worker, create_app, serve_metrics
from giftwell.cli import processes
from giftwell.cli.common import JsonOpt, load, run, run_on, setup_logging
from giftwell.cli.output import emit, fail
from giftwell.domain.errors import GiftwellError
from giftwell.services.access import accounts, tokens
from giftwell.services.audit import actor
from giftwell.services.queue import workers as job_workers
from giftwell.services.runtime import Runtime
from giftwell.settings import Settings, SettingsError, load_settings
from giftwell.store import lock
from giftwell.store.uow import UnitOfWork

log = logging.getLogger("giftwell.serve")

DEMO_ACCOUNT = "demo"


DEMO_SCOPES = ["cards:read", "cards:write", "cards:redeem"]


def demo(as_json: JsonOpt = False) -> None:
    """Create the demo account and a token if the data dir has none (used by `make run`)."""
    settings = load(as_json)
    token_file = settings.data_dir / "demo_token"

    async def setup(rt: Runtime) -> dict[str, Any]:
        async with rt.uow() as uow:
            try:
                await accounts.account_by_name(uow, DEMO_ACCOUNT)
                exists = True
            except GiftwellError:
                exists = False
        if exists:
            token = token_file.read_text().strip() if token_file.exists() else None
            return {"created": False, "account": DEMO_ACCOUNT, "token": token}

        async def create(uow: UnitOfWork) -> tokens.NewToken:
            acct = await accounts.create_account(uow, name=DEMO_ACCOUNT)
            return await tokens.create_token(uow, account_id=acct.id, scopes=DEMO_SCOPES, name="demo")

        tok = await rt.transact(create)
        _write_private(token_file, tok.token)
        return {"created": True, "account": DEMO_ACCOUNT, "token": tok.token}

    data = run(setup, as_json)
    data["docs_url"] = f"{settings.base_url}/docs"

    def human(d: dict[str, Any]) -> str:
        head = "Demo account created." if d["created"] else "Demo account already exists."
        tok = d["token"] or "(not saved; create one: giftwell tokens create --account demo --scope cards:read ...)"
        return (
            f"{head}\n  API token: {tok}\n  API docs:  {d['docs_url']}\n"
            f"  Try:       curl -s -H 'Authorization: Bearer {d['token'] or '<token>'}' -H 'Content-Type: application/json' "
            f'-d \'{{"currency":"EUR","amount":5000}}\' {settings.base_url}/v1/cards'
        )

    emit(data, as_json, human)


def _write_private(path: Path, text: str) -> None:
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default GIFTWELL_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default GIFTWELL_PORT).")] = None,
    background: Annotated[
        bool | None,
        typer.Option(
            help="Run a job worker (jobs and periodic sweeps) in this process. "
            "Default: GIFTWELL_RUN_WORKER_IN_PROCESS, itself yes on SQLite, no on PostgreSQL."
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="API processes (PostgreSQL only). Each has its own pool of GIFTWELL_DB_POOL_SIZE "
            "connections and runs no job worker unless --background: run `giftwell worker` beside them.",
        ),
    ] = 1,
    server: Annotated[
        processes.Server | None,
        typer.Option(
            help="The HTTP server: uvicorn or granian. Default: uvicorn in this process for one worker, "
            "granian supervising --workers N (measured in docs/benchmarks.md)."
        ),
    ] = None,
) -> None:
    """Run the API (and, in the embedded default, the background worker): in this process, or in
    `--workers N` processes on one port (PostgreSQL)."""
    import uvicorn

    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        fail(str(exc), False, code=2)
    setup_logging(settings)
    server = server or processes.default_server(workers)
    refused = processes.refuse_reason(settings, workers, server)
    if refused:
        fail(refused, False, code=2)
    actor.set_process_actor("system", None)
    try:
        # Kept open (and so held) until the process exits: the embedded database has one server.
        lock_file = lock.hold(settings.resolved_database_url)
    except lock.AlreadyRunning as exc:
        fail(str(exc), False, code=2)

    async def prepare(rt: Runtime) -> None:
        if lock_file is None:
            return
        # This process alone serves the file: jobs an earlier server held (it was killed or
        # crashed) are claimable now, not when their leases pass.
        n = await job_workers.reclaim_from_dead_servers(rt)
        if n:
            log.warning("resuming %d job(s) an earlier server on this database was running when it stopped", n)

    run_on(settings, prepare, False)
    in_process = settings.worker_in_process if background is None else background
    typer.echo(f"Giftwell on {settings.base_url} (docs: {settings.base_url}/docs, database: {_safe_url(settings)})")
    if workers > 1 or server != "uvicorn":
        processes.run(settings, workers=workers, background=in_process, server=server)
        return
    app_ = create_app(settings, background=in_process)
    # log_config=None: uvicorn's records go through our handler (JSON or text), not its own.
    uvicorn.run(
        app_,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
    )


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


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
    from giftwell.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc), False, code=2)
    setup_logging(settings, json_logs=json_logs)
    actor.set_process_actor("system", None)

    async def work(rt: Runtime) -> None:
        w = build_worker(rt, concurrency=concurrency, poll_interval=poll_interval)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, w.stop)
        metrics_server = await serve_metrics(rt)
        try:
            await w.run()
        finally:
            if metrics_server is not None:
                metrics_server.close()

    # Unreachable at start (or lost for good): one line, as `giftwell serve` says it.
    run_on(settings, work, False)
