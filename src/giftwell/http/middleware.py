"""Middlewares every surface shares.

Request ids: every response carries `X-Request-Id`; an incoming `X-Request-Id` or
`X-Correlation-Id` is echoed (when it is a sane token), otherwise one is made.

Rate-limit headers: a response to a rate-limited request carries `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset` (the tightest limit it was counted against), on
success and on 429 alike, whichever surface (native API or dialect) answered it."""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,200}$")


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
