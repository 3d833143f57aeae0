"""The composition root: the one module that imports every surface and puts Giftwell together.

`build_runtime` makes the runtime (settings, engine, keys, clock) with the dialects' webhook body
builders registered; `create_app` builds the ASGI application (the native API, the pages, each
dialect mounted at its path, `/healthz`, `/readyz` and `/metrics`) and its lifespan, which runs a job worker in-process when
asked; `build_worker` makes a worker for `giftwell worker`. `giftwell serve`, the tests and the
benchmarks take the application from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from giftwell import __version__, web
from giftwell.api import routes as native_api
from giftwell.dialects import sanctum, wegift, wix, wizzgift, wpay
from giftwell.dialects.wizzgift import webhook as wizzgift_webhook
from giftwell.domain.webhooks import Format
from giftwell.http import ops
from giftwell.http.limits import RATELIMIT_STATE
from giftwell.http.middleware import ObservabilityMiddleware, RateLimitHeadersMiddleware, RequestIdMiddleware
from giftwell.jobs.worker import Worker
from giftwell.services.queue import workers
from giftwell.services.runtime import Clock, Runtime, utc_now
from giftwell.services.webhooks import bodies
from giftwell.settings import Settings
from giftwell.telemetry import metrics


def build_runtime(settings: Settings, *, clock: Clock = utc_now) -> Runtime:
    """The runtime every entry point runs on, with the dialects' webhook formats registered."""
    bodies.register(Format.WIZZGIFT.value, wizzgift_webhook.order_event_body, shows_order=True)
    return Runtime(settings, clock=clock)


def build_worker(rt: Runtime, **options: Any) -> Worker:
    """A job worker on `rt` with every registered handler (`jobs.worker.Worker`'s options)."""
    return Worker(rt, **options)


def _browser_404(app: FastAPI) -> None:
    """A browser asking for a page that does not exist gets the HTML 404 (with a way back); every
    other client keeps the API's JSON error."""
    api_handler = app.exception_handlers[StarletteHTTPException]

    async def handler(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StarletteHTTPException) and exc.status_code == 404 and web.wants_page(request):
            return await web.not_found_page(request)
        answer = api_handler(request, exc)
        return answer if isinstance(answer, Response) else await answer

    app.add_exception_handler(StarletteHTTPException, handler)


async def serve_metrics(rt: Runtime) -> asyncio.Server | None:
    """`/metrics` without authentication on `GIFTWELL_METRICS_PORT`, when it is set (close the
    server returned when done)."""
    s = rt.settings
    if s.metrics_port is None:
        return None
    return await ops.start_metrics_server(rt, s.metrics_host or s.host, s.metrics_port)


def create_app(settings: Settings, *, clock: Clock = utc_now, background: bool = False) -> FastAPI:
    """Build the application. `background=True` also runs a job worker in-process (jobs and the
    periodic sweeps): `giftwell serve` does in the embedded default; tests drive workers
    themselves."""
    rt = build_runtime(settings, clock=clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker, task, metrics_server = None, None, None
        if background:
            worker = build_worker(rt, role=workers.SERVER)
            app.state.worker = worker
            task = asyncio.create_task(worker.run(), name="worker")
        metrics_server = await serve_metrics(rt)
        try:
            yield
        finally:
            if metrics_server is not None:
                metrics_server.close()
            if worker is not None and task is not None:
                # Graceful: in-flight jobs get the shutdown grace, then go back to the queue.
                worker.stop()
                await task
            await rt.close()
            metrics.process_exited(os.getpid())

    app = FastAPI(title="Giftwell", version=__version__, description=native_api.DESCRIPTION, lifespan=lifespan)
    app.state.runtime = rt
    app.state.worker = None
    app.add_middleware(RateLimitHeadersMiddleware, state_key=RATELIMIT_STATE)
    app.add_middleware(ObservabilityMiddleware)
    app.add_middleware(RequestIdMiddleware)
    native_api.install(app)
    app.include_router(ops.router)
    web.install(app)
    _browser_404(app)
    app.mount(sanctum.MOUNT, sanctum.create_app(rt))
    app.mount(wizzgift.MOUNT, wizzgift.create_app(rt))
    app.mount(wpay.MOUNT, wpay.create_app(rt))
    app.mount(wix.MOUNT, wix.create_app(rt))
    app.mount(wegift.MOUNT, wegift.create_app(rt))

    return app
