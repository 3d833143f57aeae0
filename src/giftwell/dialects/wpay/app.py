"""The Wpay Gifting (GCO client API) sub-application, mounted at `/gifting/gco/client/api/v1`.

- `POST /orders`: Submit Order (or, with `reversal: true`, reverse `originalClientOrderNumber`);
- `GET /orders/{clientOrderNumber}`: the order's status and cards;
- `POST /orders/{clientOrderNumber}/reverse`: reverse it.

Each runs the same way (`handle`): `X-Correlation-Id` is required (400 without it; the request-id
middleware echoes it on every response); the client's signed JWT is checked by one service
(`signed_tokens.authenticate`), under the per-address limit first and the client's own after; its
scopes apply as for any token; then one service use case, and its answer in the vendor's words.
Every failure goes to `errors.respond`. No order rule is decided here.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from starlette.responses import Response

from giftwell.dialects.wpay import errors, mapping, wire
from giftwell.dialects.wpay.wire import WireError
from giftwell.domain.access import Principal
from giftwell.domain.orders import OrderStatus
from giftwell.http import openapi
from giftwell.http.deps import bearer_token
from giftwell.http.limits import limit
from giftwell.http.request import client_ip, get_runtime
from giftwell.services.access import ratelimit, signed_tokens
from giftwell.services.orders import references
from giftwell.services.runtime import Runtime

MOUNT = "/gifting/gco/client/api/v1"
# What the request-id middleware echoes: a correlation id it would not echo is refused instead.
_CORRELATION = re.compile(r"^[A-Za-z0-9._:\-]{1,200}$")

Operation = Callable[[Request, Principal, str], Awaitable[Response]]


def correlation_of(request: Request) -> str:
    value = request.headers.get("x-correlation-id")
    if value is None or not _CORRELATION.match(value):
        raise WireError(
            [("X-Correlation-Id", "the X-Correlation-Id header is required: 1 to 200 letters, digits or . _ : -")]
        )
    return value


async def authenticate(request: Request, scope: str) -> Principal:
    rt = get_runtime(request)
    await limit(request, await ratelimit.hit_request(rt, ip=client_ip(request), token_key=None))
    principal = await signed_tokens.authenticate(rt, bearer_token(request))
    if rt.token_rate is not None:
        await limit(request, await ratelimit.hit(rt, [(f"tok:{principal.token_id}", rt.token_rate)]))
    principal.require(scope)
    return principal


def _status(order_status: OrderStatus) -> int:
    # Synchronous orders answer 200 with their cards; one left to the background, 202.
    return 202 if order_status.open else 200


async def submit(request: Request, p: Principal, correlation: str) -> Response:
    """Submit an order (or, with reversal: true, reverse originalClientOrderNumber)."""
    rt = get_runtime(request)
    wire.check_length(request.headers.get("content-length"))
    data = wire.parse(await request.body())
    order = wire.read(data)
    if order.reversal:
        assert order.originalClientOrderNumber is not None  # wire.read requires it
        done = await references.reverse(rt, account_id=p.account_id, reference=order.originalClientOrderNumber)
        body = mapping.reversal_body(
            done.order,
            cancelled=done.cancelled,
            already=done.already,
            correlation=correlation,
            reversal_number=order.clientOrderNumber,
        )
        return errors.json_response(body)
    background = "respond-async" in request.headers.get("prefer", "").lower()
    req = mapping.order_request(order, data, now=rt.clock(), background=background)
    placed = await references.submit(rt, account_id=p.account_id, req=req)
    headers = {"Idempotent-Replayed": "true"} if placed.replayed else None
    body = mapping.order_body(placed.order, correlation=correlation)
    return errors.json_response(body, _status(placed.order.status), headers)


async def status(request: Request, p: Principal, correlation: str) -> Response:
    """An order by its clientOrderNumber, with its cards."""
    number = request.path_params["client_order_number"]
    view = await references.show(get_runtime(request), account_id=p.account_id, reference=number)
    return errors.json_response(mapping.order_body(view, correlation=correlation), _status(view.status))


async def reverse(request: Request, p: Principal, correlation: str) -> Response:
    """Reverse the order named by its clientOrderNumber (docs/dialects/wpay.md)."""
    number = request.path_params["client_order_number"]
    done = await references.reverse(get_runtime(request), account_id=p.account_id, reference=number)
    body = mapping.reversal_body(done.order, cancelled=done.cancelled, already=done.already, correlation=correlation)
    return errors.json_response(body)


async def handle(request: Request, scope: str, operation: Operation) -> Response:
    correlation: str | None = None
    try:
        correlation = correlation_of(request)
        principal = await authenticate(request, scope)
        return await operation(request, principal, correlation)
    except Exception as exc:  # the one place every failure is put into the vendor's body
        return errors.respond(exc, request, correlation=correlation)


def _route(name: str, scope: str, operation: Operation) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handle(request, scope, operation)

    endpoint.__name__ = f"wpay_{name}"
    return endpoint


_CORRELATION_HEADER = openapi.parameter("X-Correlation-Id", "header", {"type": "string"}, required=True)
_NUMBER = openapi.parameter("client_order_number", "path", {"type": "string"})
_BY_NUMBER = openapi.operation(parameters=[_CORRELATION_HEADER, _NUMBER])
_SUBMIT = openapi.operation(body=openapi.inline(wire.SubmitOrder.model_json_schema()), parameters=[_CORRELATION_HEADER])

ROUTES = (
    ("/orders", "POST", "submit_order", "orders:write", submit, _SUBMIT),
    ("/orders/{client_order_number}", "GET", "get_order", "orders:read", status, _BY_NUMBER),
    ("/orders/{client_order_number}/reverse", "POST", "reverse_order", "orders:write", reverse, _BY_NUMBER),
)


def create_app(rt: Runtime) -> FastAPI:
    """The sub-application mounted at `MOUNT`; it shares the runtime (the database, the keys,
    the clock) with the native API."""
    # Its own OpenAPI description at /gifting/gco/client/api/v1/openapi.json.
    app = FastAPI(
        title="Wpay Gifting (GCO client API) dialect",
        description="The Wpay Gifting API (seed 003), spoken by Giftwell: see docs/dialects/wpay.md. "
        "Every request carries an ES256 JWT signed by the client's registered key.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = rt
    errors.install(app)
    for path, method, name, scope, run, described in ROUTES:
        app.add_api_route(
            path,
            _route(name, scope, run),
            methods=[method],
            name=f"wpay.{name}",
            summary=(run.__doc__ or "").strip() or None,
            openapi_extra=described,
        )
    return app
