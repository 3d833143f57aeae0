"""`create_app(settings)`: the ASGI application with the native API, dialects and health."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.responses import Response

from giftwell import __version__
from giftwell.api import errors, oauth
from giftwell.api.deps import RATELIMIT_STATE
from giftwell.api.middleware import RateLimitHeadersMiddleware, RequestIdMiddleware
from giftwell.api.v1 import account, cards, clients, orders, ping, products, transfers, webhooks
from giftwell.services.runtime import Clock, Runtime, utc_now
from giftwell.settings import Settings

DESCRIPTION = """Giftwell's native API.

Authenticate with `Authorization: Bearer <token>` (create one with `giftwell tokens create`).
Amounts are integers in the currency's minor units (EUR cents; JPY has none; KWD has three).
Every POST honours `Idempotency-Key`. Errors have the shape
`{"error": {"type", "code", "message", "param", "request_id"}}`.

Webhooks (`/v1/webhook-endpoints`, `/v1/events`) are signed twice: `X-Signature` (hex HMAC-SHA256
of the body keyed with the `whsec_...` string) and the Standard Webhooks headers `webhook-id`,
`webhook-timestamp`, `webhook-signature`; retried for about three days. See docs/webhooks.md.
"""


def create_app(settings: Settings, *, clock: Clock = utc_now, background: bool = False) -> FastAPI:
    """Build the application. `background=True` also runs a job worker in-process (jobs and the
    periodic sweeps): `giftwell serve` does in the embedded default; tests drive workers
    themselves."""
    rt = Runtime(settings, clock=clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker, task = None, None
        if background:
            from giftwell.jobs.worker import Worker

            worker = Worker(rt)
            task = asyncio.create_task(worker.run(), name="worker")
        try:
            yield
        finally:
            if worker is not None and task is not None:
                # Graceful: in-flight jobs get the shutdown grace, then go back to the queue.
                worker.stop()
                await task
            await rt.close()

    app = FastAPI(title="Giftwell", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.runtime = rt
    app.add_middleware(RateLimitHeadersMiddleware, state_key=RATELIMIT_STATE)
    app.add_middleware(RequestIdMiddleware)
    errors.install(app)
    app.include_router(cards.router)
    app.include_router(transfers.router)
    app.include_router(clients.router)
    app.include_router(products.router)
    app.include_router(account.router)
    app.include_router(orders.router)
    app.include_router(webhooks.endpoints)
    app.include_router(webhooks.events_router)
    app.include_router(oauth.router)
    app.include_router(ping.router)

    from giftwell import web
    from giftwell.dialects import sanctum

    web.install(app)

    app.mount(sanctum.MOUNT, sanctum.create_app(rt))

    @app.get("/healthz", tags=["health"], summary="Liveness and database check")
    async def healthz() -> Response:
        async with rt.uow() as uow:
            await uow.conn.exec_driver_sql("SELECT 1")
        return Response(b'{"status":"ok"}', media_type="application/json")

    return app
