"""Middlewares every surface shares.

Request ids: every response carries `X-Request-Id`; an incoming `X-Request-Id` or
`X-Correlation-Id` is echoed (when it is a sane token), otherwise one is made.

Rate-limit headers: a response to a rate-limited request carries `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset` (the tightest limit it was counted against), on
success and on 429 alike, whichever surface (native API or dialect) answered it.

Observability: every request is logged (one line, with its request id, account, route and
duration) and counted in `giftwell_http_request_duration_seconds`."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from giftwell.telemetry import logs, metrics

_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,200}$")
_request_log = logging.getLogger("giftwell.http")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        correlation = None
        for name, value in scope["headers"]:
            if name in {b"x-request-id", b"x-correlation-id"}:
                v = value.decode("latin-1")
                if _SANE.match(v):
                    if name == b"x-request-id":
                        rid = v
                    else:
                        correlation = v
        rid = rid or correlation or "req_" + secrets.token_hex(12)
        scope.setdefault("state", {})["request_id"] = rid
        raw = rid.encode()
        corr = correlation.encode() if correlation else None

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", raw))
                if corr is not None:
                    headers.append((b"x-correlation-id", corr))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


class RateLimitHeadersMiddleware:
    """Adds the `RateLimit-*` headers of the quota the request's limiter left in its state."""

    def __init__(self, app: ASGIApp, *, state_key: str) -> None:
        self.app = app
        self.state_key = state_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Shared with the routes: Starlette's Request.state writes into this same dict.
        state = scope.setdefault("state", {})
        key = self.state_key

        async def send_with_quota(message: Message) -> None:
            if message["type"] == "http.response.start":
                quota = state.get(key)
                if quota is not None:
                    headers = list(message.get("headers", []))
                    headers += [(k.lower().encode(), v.encode()) for k, v in quota.headers().items()]
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_quota)


class ObservabilityMiddleware:
    """One log line and one latency observation per request: method, route *template* (never the
    path: a reward link's token is in it), status, duration, request id and, once the token is
    checked, the account. Runs inside `RequestIdMiddleware`, whose id it reads."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Histogram children by (method, route, status): labels() costs more than observe().
        self._children: dict[tuple[str, str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        ctx, token = logs.start_request(request_id=state.get("request_id"))
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            ctx["route"] = route
            method = scope["method"]
            key = (method, route, str(status))
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = metrics.HTTP_REQUESTS.labels(*key)
            child.observe(elapsed)
            _request_log.info(
                "%s %s %d",
                method,
                route,
                status,
                extra={"method": method, "status": status, "duration_ms": round(elapsed * 1000, 3)},
            )
            logs.end_request(token)


def route_template(scope: Scope) -> str:
    """The matched route's template, mount prefix included (`/api/giftcards/check`), or
    `unmatched` (a 404 path is the caller's text: it never becomes a label)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if route is None or path is None:
        return "unmatched"
    root = scope.get("root_path", "")[len(scope.get("app_root_path", "")) :]
    if isinstance(route, Mount):
        return f"{root}/*" if root.endswith(path) else f"{root}{path}/*"
    return f"{root}{path}"
