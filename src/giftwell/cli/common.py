"""What every command shares: settings (or a one-line refusal), logging, the schema check, and
running a use case on a runtime with errors as one line (`--json`: as JSON)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy.exc import DBAPIError

from giftwell.app import build_runtime
from giftwell.cli.output import fail
from giftwell.domain.errors import DatabaseUnavailable, GiftwellError
from giftwell.services.runtime import Runtime
from giftwell.settings import Settings, SettingsError, load_settings
from giftwell.store import migrate
from giftwell.telemetry import logs

T = TypeVar("T")


JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def load(as_json: bool = False) -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc), as_json, code=2)
    setup_logging(settings)
    return settings


def setup_logging(settings: Settings, *, json_logs: bool = False) -> None:
    """Logs to stderr as GIFTWELL_LOG_FORMAT says (JSON unless on a terminal); `json_logs` forces
    JSON (`giftwell worker --json-logs`)."""
    logs.configure(fmt="json" if json_logs else settings.log_format, level=settings.log_level)


async def ready(rt: Runtime) -> None:
    """Embedded default: bring the schema up to date. Elsewhere: refuse an old schema."""
    if rt.settings.embedded:
        rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate.upgrade(rt.engine)
        return
    current, head = await migrate.current_revision(rt.engine), migrate.head_revision()
    if current != head:
        raise GiftwellError(f"database schema is at {current}, not {head}: run `giftwell db upgrade`")


def run(fn: Callable[[Runtime], Awaitable[T]], as_json: bool) -> T:
    """`fn` on a runtime of the environment's settings (see `run_on`)."""
    return run_on(load(as_json), fn, as_json)


def run_on(settings: Settings, fn: Callable[[Runtime], Awaitable[T]], as_json: bool) -> T:
    """`fn` on a runtime of `settings` whose schema is ready (`ready`), closed after. A refusal
    of the services, or a database that is down, unreachable or refuses us, is one line (JSON
    with `--json`) and an exit code, never a traceback."""

    async def main() -> T:
        rt = build_runtime(settings)
        try:
            await ready(rt)
            return await fn(rt)
        finally:
            await rt.close()

    try:
        return asyncio.run(main())
    except DatabaseUnavailable as exc:
        fail(f"database error: {first_line(exc.__cause__ or exc)}", as_json, code=2)
    except GiftwellError as exc:
        fail(exc, as_json)
    except (DBAPIError, OSError) as exc:
        # The database is down, unreachable or refuses us: one line, not a traceback.
        fail(f"database error: {first_line(exc)}", as_json, code=2)


def first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]
