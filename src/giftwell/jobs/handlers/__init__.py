"""The handler registry: job kind -> `async def handler(rt, job) -> None`.

Add a handler for a new kind of job with the decorator, in a module of this package, and list
the module in `_MODULES` so the worker imports it:

    from giftwell.jobs.handlers import handler

    @handler("webhook.deliver")
    async def deliver(rt: Runtime, job: ClaimedJob) -> None:
        ...

Enqueue it from a service, in the transaction of the change that causes it:

    await jobs.enqueue(uow, "webhook.deliver", {"delivery": delivery_id}, dedupe_key=f"webhook:{delivery_id}")

HANDLERS RUN AT LEAST ONCE, NOT EXACTLY ONCE. A worker can die after your effect committed and
before the job was marked done; its lease then passes and another worker runs the job again.
So every handler must be idempotent:

- Record the effect and a marker keyed by the job (or by the business object) in ONE
  transaction, e.g. `INSERT ... ON CONFLICT DO NOTHING` on a unique key, or a guarded
  `UPDATE ... WHERE status = 'pending'`, and do nothing if the marker is already there.
- Calls to the outside world (an SMTP server, a webhook, an upstream vendor) cannot be made
  atomic with the database: send an idempotency key upstream where the peer supports one, and
  accept that a recipient may, rarely, see a message twice.
- Never hold a transaction open across slow I/O: on SQLite it would stop every other writer.

Raise `RetryLater(delay)` to choose the next try's delay (a Retry-After), `PermanentFailure(reason)`
to give up at once; any other exception is retried with exponential backoff and full jitter until
`max_attempts`, then the job is dead (`giftwell jobs list --state dead`, `giftwell jobs retry ID`).
Exception messages are stored (redacted, truncated) and logged: never put a card code, PIN or
token in one. A handler running past `settings.job_timeout_seconds` is cancelled and retried.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Awaitable, Callable

from giftwell.services.queue.claims import ClaimedJob
from giftwell.services.runtime import Runtime

Handler = Callable[[Runtime, ClaimedJob], Awaitable[None]]

# Modules that register handlers when imported. Features add theirs here.
_MODULES: list[str] = [
    "giftwell.jobs.handlers.orders",
    "giftwell.jobs.handlers.delivery",
    "giftwell.jobs.handlers.webhooks",
    "giftwell.jobs.handlers.suppliers",
    "giftwell.jobs.handlers.team",
]
# Registered only when GIFTWELL_TEST_HANDLERS=1: the test suite's slow, idempotent handler used to
# check crash recovery with real worker processes.
_TEST_MODULES = ["giftwell.jobs.handlers.testing"]

_registry: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register `fn` as the handler for jobs of `kind` (one handler per kind)."""

    def register(fn: Handler) -> Handler:
        existing = _registry.get(kind)
        if existing is not None and existing is not fn:
            raise ValueError(f"a handler for job kind {kind!r} is already registered: {existing.__qualname__}")
        _registry[kind] = fn
        return fn

    return register


def registry() -> dict[str, Handler]:
    """Every registered handler, after importing the modules that register them."""
    modules = list(_MODULES)
    if os.environ.get("GIFTWELL_TEST_HANDLERS") == "1":
        modules += _TEST_MODULES
    for name in modules:
        importlib.import_module(name)
    return dict(_registry)
