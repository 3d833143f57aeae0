"""Structured logs: one JSON object a line (or readable text on a terminal), with the context of
the request or job they happen in.

`configure` routes the standard library's logging (every `logging.getLogger(...)` in Giftwell,
uvicorn's, SQLAlchemy's) through structlog's formatter, so each record gains what is bound around
it: `request_id`, `route` and `account_id` during a request (`request_context`, `annotate`), `job_id`,
`job_kind` and `attempt` during a job (`bind`). Messages keep their `%`-style arguments.

What may be logged: ids, route templates (never a path: a reward link's token is in its path),
counts, durations, states. Never a request or response body, a header's value, a code, a PIN, a
token or a secret; `tests/functional/api/test_secret_hygiene.py` runs every flow at DEBUG and
looks for them.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson
import structlog

FORMATS = ("json", "text")

# The request being served, as a mutable dict: the request middleware puts it in place, the
# authentication dependency adds the account to it, and every log record of the request reads it.
_REQUEST: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("giftwell_request", default=None)


def resolve_format(fmt: str | None, stream: Any = None) -> str:
    """`json` or `text`; unset: text on a terminal, JSON otherwise (a file, a pipe, a collector)."""
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
        return fmt
    stream = stream or sys.stderr
    return "text" if getattr(stream, "isatty", lambda: False)() else "json"


def _request_fields(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    ctx = _REQUEST.get()
    if ctx:
        for k, v in ctx.items():
            # Underscored fields (the caller's address) are for the audit log, not log lines.
            if not k.startswith("_"):
                event.setdefault(k, v)
    return event


def _dumps(obj: Any, **_kw: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def formatter(fmt: str) -> logging.Formatter:
    """The formatter for `fmt` ("json" or "text")."""
    pre: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _request_fields,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    ]
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
        tail = [structlog.processors.format_exc_info]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        tail = []
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail, renderer],
    )


def configure(*, fmt: str | None = None, level: str = "info", stream: Any = None) -> str:
    """Send every log record to `stream` (stderr) in `fmt`; returns the format chosen."""
    chosen = resolve_format(fmt, stream)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(chosen))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_giftwell", False):
            root.removeHandler(old)
    handler._giftwell = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Alembic narrates every start at INFO; only its warnings matter to an operator. Uvicorn's
    # access log would repeat our request line without the request id.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    return chosen


def start_request(**fields: Any) -> tuple[dict[str, Any], contextvars.Token[dict[str, Any] | None]]:
    """Open a request's log context (the middleware does); returns it and the token to reset."""
    ctx = dict(fields)
    return ctx, _REQUEST.set(ctx)


def end_request(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _REQUEST.reset(token)


def annotate(**fields: Any) -> None:
    """Add fields (the account, once the token is checked) to the current request's context."""
    ctx = _REQUEST.get()
    if ctx is not None:
        ctx.update(fields)


def current_request() -> dict[str, Any] | None:
    return _REQUEST.get()


@contextlib.contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Bind fields to every record logged inside the block (in this task and tasks it starts)."""
    with structlog.contextvars.bound_contextvars(**fields):
        yield
