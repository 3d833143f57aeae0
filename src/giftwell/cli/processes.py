"""`giftwell serve --workers N`: N API processes on one port, under granian's supervisor (or
uvicorn's, `--server uvicorn`).

The supervisor (this process) reads no request itself: it checks the settings, puts the
Prometheus client in multiprocess mode on a fresh directory (so any process's `/metrics` renders
the sum of all), and starts N processes that each import `process_app` and build the whole
application from the environment: their own settings, logging, database pool
(`GIFTWELL_DB_POOL_SIZE` connections each), token cache and rate-limit counters. What one
process caches the others do not see: a revoked token stops working in the others within
`GIFTWELL_TOKEN_CACHE_SECONDS`, and generous rate limits are counted per process and flushed
to the database every 0.2 s (docs/access.md). Only PostgreSQL: the embedded SQLite server is one
process (it holds an exclusive lock on its database file).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI

from giftwell.settings import Settings, load_settings
from giftwell.telemetry import metrics

Server = Literal["uvicorn", "granian"]
# Set by the supervisor for its processes: whether each runs a job worker in-process.
_BACKGROUND_ENV = "GIFTWELL_RUN_WORKER_IN_PROCESS"


def default_server(workers: int) -> Server:
    """uvicorn in the calling process for one worker (one process: the embedded server's lock and
    a SIGKILL that stops the server are those of the process started); granian's supervisor for
    several. Chosen by `python -m bench.multi` (docs/benchmarks.md, session 20): granian's processes
    spent 9 to 15% less CPU on the bare endpoint in every run and less per redemption in two runs
    of three with two workers; with one worker uvicorn spent less per redemption."""
    return "uvicorn" if workers == 1 else "granian"


def refuse_reason(settings: Settings, workers: int, server: Server = "uvicorn") -> str | None:
    """Why `serve --workers N --server S` cannot run with these settings, or None."""
    if not settings.embedded:
        return None
    if workers > 1:
        return (
            f"--workers {workers}: the embedded SQLite database is served by one process (it holds an "
            "exclusive lock on the database file). Run one process, or set GIFTWELL_DATABASE_URL to "
            "PostgreSQL to serve from several"
        )
    if server != "uvicorn":
        # granian serves from a child process: the lock would be held by a supervisor that
        # serves nothing, and a server killed with SIGKILL would leave its child serving the file.
        return f"--server {server}: the embedded SQLite database is served by uvicorn in this process only"
    return None


def process_app() -> FastAPI:
    """The application of one API process, built from the environment (uvicorn and granian call
    it in each process they start)."""
    from giftwell.app import create_app
    from giftwell.cli.common import setup_logging
    from giftwell.services.audit import actor

    settings = load_settings()
    setup_logging(settings)
    actor.set_process_actor("system", None)
    return create_app(settings, background=settings.worker_in_process)


def run(settings: Settings, *, workers: int, background: bool, server: Server) -> None:
    """Serve with `workers` processes until a signal stops the supervisor (which stops them)."""
    # The processes read their settings from the environment: what the command line chose
    # (--host, --port, --background) goes there for them.
    os.environ["GIFTWELL_HOST"] = settings.host
    os.environ["GIFTWELL_PORT"] = str(settings.port)
    os.environ[_BACKGROUND_ENV] = "true" if background else "false"
    if not metrics.is_multiprocess():
        metrics.multiprocess_dir(_metrics_dir(settings))
    if server == "granian":
        _granian(settings, workers)
    else:
        _uvicorn(settings, workers)


def _metrics_dir(settings: Settings) -> Path:
    """A directory of this supervisor's own, emptied at start (values of an earlier run must not
    be summed in): under the data dir when it can be written, else under the system's temp."""
    name = f"prometheus-{settings.port}"
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return settings.data_dir / name
    except OSError:
        return Path(tempfile.gettempdir()) / f"giftwell-{name}"


def _uvicorn(settings: Settings, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "giftwell.cli.processes:process_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
    )


def _granian(settings: Settings, workers: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    options: dict[str, Any] = {
        "address": settings.host,
        "port": settings.port,
        "interface": Interfaces.ASGI,
        "workers": workers,
        "loop": Loops.uvloop,
        "factory": True,
        "log_enabled": False,
        "log_access": False,
        # A process that dies (a crash, the OOM killer) is started again, as uvicorn's supervisor does.
        "respawn_failed_workers": True,
        "respawn_interval": 1.0,
    }
    Granian("giftwell.cli.processes:process_app", **options).serve()
