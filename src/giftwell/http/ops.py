"""Operations endpoints: `/healthz` (alive), `/readyz` (ready for traffic) and `/metrics`
(Prometheus), for load balancers, orchestrators and monitoring.

- `/healthz` answers 200 as long as the process serves: it touches nothing, so a database outage
  never makes an orchestrator restart healthy processes.
- `/readyz` answers 200 when the database answers within two seconds, its schema is at the
  migrations' head, and the job worker is beating when one is expected (this process runs one,
  or `GIFTWELL_READY_REQUIRES_WORKER` says a `giftwell worker` must be alive somewhere); else 503
  naming the failed check, with `Retry-After`.
- `/metrics` needs a bearer token with `metrics:read` (operator accounts only). With
  `GIFTWELL_METRICS_PORT` set, `metrics_app` serves the same text without authentication on that
  port, for a private network.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from giftwell.http.deps import require
from giftwell.http.request import get_runtime
from giftwell.services.queue import workers
from giftwell.services.runtime import Runtime
from giftwell.store import migrate
from giftwell.telemetry import metrics

log = logging.getLogger("giftwell.http.ops")

CHECK_TIMEOUT = 2.0
RETRY_AFTER = "5"

router = APIRouter(tags=["operations"])


@functools.cache
def _head() -> str | None:
    return migrate.head_revision()


def _json(doc: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json", headers=headers)


@router.get("/healthz", summary="Liveness: the process serves", response_description='{"status": "ok"}')
async def healthz() -> Response:
    return _json({"status": "ok"}, 200)


async def readiness(rt: Runtime, worker: Any) -> dict[str, str]:
    """Each check's verdict: `ok`, `not expected`, or what is wrong."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            current = await migrate.current_revision(rt.engine)
        checks["database"] = "ok"
        checks["migrations"] = "ok" if current == _head() else f"at {current}, not {_head()}: run giftwell db upgrade"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["migrations"] = "unknown"
    lease = rt.settings.job_lease_seconds
    if worker is not None:
        beat = getattr(worker, "last_beat", None)
        fresh = beat is not None and time.monotonic() - beat <= lease
        checks["worker"] = "ok" if fresh else "the in-process worker has not beaten within one job lease"
    elif rt.settings.ready_requires_worker:
        if checks["database"] != "ok":
            checks["worker"] = "unknown"
        else:
            async with rt.reader() as uow:
                alive = await workers.alive_count(uow)
            checks["worker"] = "ok" if alive else "no giftwell worker has beaten within one job lease"
    else:
        checks["worker"] = "not expected"
    return checks


@router.get("/readyz", summary="Readiness: database, schema and worker", response_description="each check's verdict")
async def readyz(request: Request) -> Response:
    checks = await readiness(get_runtime(request), getattr(request.app.state, "worker", None))
    ready = all(v in ("ok", "not expected") for v in checks.values())
    if ready:
        return _json({"status": "ready", "checks": checks}, 200)
    return _json({"status": "not ready", "checks": checks}, 503, {"Retry-After": RETRY_AFTER})


async def render_metrics(rt: Runtime) -> bytes:
    """The process's (or, in multiprocess mode, every process's) metrics, and what the database
    says of the job queue and the workers at this moment."""
    text = metrics.render()
    up = 1.0
    families: list[tuple[str, str, tuple[str, ...], dict[tuple[str, ...], float]]] = []
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), rt.reader() as uow:
            q = await workers.queue_stats(uow)
    except Exception as exc:
        log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
        up = 0.0
    else:
        by_kind = ("kind",)
        families += [
            ("giftwell_jobs_queued", "Jobs waiting to run (due or scheduled) by kind.", by_kind, _keyed(q.queued)),
            ("giftwell_jobs_running", "Jobs claimed by a worker by kind.", by_kind, _keyed(q.running)),
            ("giftwell_jobs_dead", "Dead jobs waiting for an operator by kind.", by_kind, _keyed(q.dead)),
            (
                "giftwell_jobs_oldest_due_age_seconds",
                "Age of the oldest due, unclaimed job by kind.",
                by_kind,
                _keyed(q.oldest_due_age),
            ),
            ("giftwell_workers_alive", "Job workers that beat within one job lease.", (), {(): q.workers_alive}),
        ]
    families.append(("giftwell_database_up", "1 if the database answered this scrape.", (), {(): up}))
    return text + metrics.gauge_text(families)


def _keyed(d: dict[str, int] | dict[str, float]) -> dict[tuple[str, ...], float]:
    return {(k,): float(v) for k, v in d.items()}


@router.get(
    "/metrics",
    summary="Prometheus metrics (metrics:read, operator accounts only)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
    dependencies=[Depends(require("metrics:read"))],
)
async def metrics_endpoint(request: Request) -> Response:
    return Response(await render_metrics(get_runtime(request)), media_type=metrics.CONTENT_TYPE)


async def start_metrics_server(rt: Runtime, host: str, port: int) -> asyncio.Server:
    """Serve `GET /metrics` without authentication on `host:port` (`GIFTWELL_METRICS_PORT`).

    A minimal HTTP/1.1 responder (one request a connection) on asyncio, so it shares the event
    loop, signals and shutdown of the process it runs in. The socket is opened with SO_REUSEPORT:
    several server processes on one machine may all listen on the port, and in multiprocess mode
    any of them answers with the sum of all."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
                method, _, rest = head.partition(b" ")
                target = rest.partition(b" ")[0].split(b"?")[0]
                if method in (b"GET", b"HEAD") and target == b"/metrics":
                    body, status, ctype = await render_metrics(rt), b"200 OK", metrics.CONTENT_TYPE.encode()
                else:
                    body, status, ctype = b"not found: GET /metrics\n", b"404 Not Found", b"text/plain"
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Type: "
                    + ctype
                    + b"\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\nConnection: close\r\n\r\n"
                    + (body if method != b"HEAD" else b"")
                )
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, host, port, reuse_port=True)
