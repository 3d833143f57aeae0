"""The WizzGift B2B sub-application, mounted at `/api/b2b` (seed 000).

| route | scope | what |
|---|---|---|
| `GET /oauth/authorize` | | the same sign-in and consent pages as `/oauth/authorize` |
| `POST /oauth/token` | | the token endpoint, JSON or form body, the seed's bodies |
| `GET /products` | `viewProducts` | the catalog |
| `POST /order` | `createOrder` | place an order; `referenceId` is its idempotency key |
| `GET /order?id=` or `?referenceId=` | `viewOrder` | an order with its codes (each showing recorded) |

Each handler authenticates (the native tokens; WizzGift's scope names are native scopes by
other names), reads the request (`wire`), calls one service and writes the answer (`mapping`).
Every failure goes to `errors.respond`, the seed's envelope. No rule is decided here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from giftwell.dialects.wizzgift import errors, mapping, oauth, wire
from giftwell.domain.access import Principal
from giftwell.domain.errors import Conflict, GiftwellError, ValidationFailed
from giftwell.http.decimal_json import json_response
from giftwell.http.deps import authenticate
from giftwell.http.oauth import query_params
from giftwell.http.openapi import STRING, object_schema, operation, parameter
from giftwell.http.request import get_runtime
from giftwell.services.catalog import products
from giftwell.services.orders import by_reference
from giftwell.services.runtime import Runtime

MOUNT = "/api/b2b"

# Native parameter names as the seed's fields, for the messages of refused values.
WIRE_FIELDS = {
    "reference": "referenceId",
    "items[0].product": "productId",
    "items[0].amount": "amount",
    "items[0].quantity": "quantity",
    "items[0].fields": "requiredInfoFromUser",
    "items": "quantity",
}


def _field(param: str) -> str:
    fields = "items[0].fields."
    if param.startswith(fields):
        return f"requiredInfoFromUser {param[len(fields) :]}"
    return WIRE_FIELDS.get(param, param)


def _worded(exc: GiftwellError) -> GiftwellError:
    """A refusal by the services with the seed's field name in front of its message."""
    if isinstance(exc, ValidationFailed | Conflict) and exc.param is not None:
        exc.message = f"{_field(exc.param)}: {exc.message}"
    return exc


Handler = Callable[[Request, Principal], Awaitable[Response]]


def _endpoint(scope: str, handle: Handler) -> Callable[[Request], Awaitable[Response]]:
    """`handle` for a caller holding `scope`, every failure in the seed's envelope."""

    async def endpoint(request: Request) -> Response:
        try:
            principal = await authenticate(request)
            principal.require(scope)
            return await handle(request, principal)
        except Exception as exc:  # the one place every failure is put into the vendor's envelope
            return errors.respond(exc, request)

    endpoint.__name__ = handle.__name__
    endpoint.scope = scope  # type: ignore[attr-defined]
    return endpoint


async def list_products(request: Request, principal: Principal) -> Response:
    """The products the caller may order, with their SKUs (viewProducts)."""
    found = await products.browse(get_runtime(request))
    return json_response({"success": True, "data": [mapping.product(p) for p in found]})


async def _body(request: Request) -> bytes:
    """The request body, refused (400) past `wire.MAX_BODY` as announced or as it arrives."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > wire.MAX_BODY:
        raise wire.BadRequest(wire.TOO_LARGE)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > wire.MAX_BODY:
            raise wire.BadRequest(wire.TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


async def create_order(request: Request, principal: Principal) -> Response:
    """Place an order; referenceId is its idempotency key (createOrder)."""
    req = wire.read_order(wire.json_object(await _body(request)))
    try:
        placed = await by_reference.place_once(get_runtime(request), account_id=principal.account_id, req=req)
    except GiftwellError as exc:
        raise _worded(exc) from None
    return json_response(mapping.created(placed.id, placed.reference))


async def get_order(request: Request, principal: Principal) -> Response:
    """An order by id or referenceId, with its codes; each showing is recorded (viewOrder)."""
    query = wire.read_order_query(query_params(request))
    shown = await by_reference.reveal(
        get_runtime(request), account_id=principal.account_id, order_id=query.id, reference=query.reference_id
    )
    return json_response({"success": True, "data": mapping.order(shown)})


_ORDER = object_schema(
    {
        "amount": {"type": "number", "description": "In major units of the product's currency."},
        "referenceId": {**STRING, "description": "The idempotency key of the order."},
        "quantity": {"type": "integer", "minimum": 1},
        "productId": STRING,
        "requiredInfoFromUser": {
            "type": "array",
            "items": object_schema({"id": STRING, "value": STRING}, ["id", "value"]),
        },
        "isTest": {"type": "boolean"},
    },
    list(wire.ORDER_FIELDS),
)
_TOKEN = object_schema(
    {
        "grant_type": {"type": "string", "enum": ["authorization_code", "refresh_token"]},
        "code": STRING,
        "refresh_token": STRING,
        "client_id": STRING,
        "client_secret": STRING,
        "redirect_uri": STRING,
        "code_verifier": STRING,
    },
    ["grant_type"],
)
_ORDER_QUERY = [parameter("id", "query", STRING), parameter("referenceId", "query", STRING)]

# (method, path, the native scope its WizzGift name stands for, handler, its OpenAPI description)
ROUTES: tuple[tuple[str, str, str, Handler, dict[str, Any]], ...] = (
    ("GET", "/products", "products:read", list_products, {}),
    ("POST", "/order", "orders:write", create_order, operation(body=_ORDER)),
    ("GET", "/order", "orders:read", get_order, operation(parameters=_ORDER_QUERY)),
)


def create_app(rt: Runtime) -> FastAPI:
    """The sub-application mounted at `MOUNT`; it shares the runtime (and so the database, the
    tokens and the clock) with the native API."""
    # Its own OpenAPI description at /api/b2b/openapi.json.
    app = FastAPI(
        title="WizzGift B2B dialect",
        description="The WizzGift B2B API (seed 000), spoken by Giftwell: see docs/dialects/wizzgift.md.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = rt
    errors.install(app)
    app.add_api_route(
        "/oauth/authorize", oauth.authorize, methods=["GET"], name="wizzgift.authorize", include_in_schema=False
    )
    app.add_api_route(
        "/oauth/token", oauth.token, methods=["POST"], name="wizzgift.token", openapi_extra=operation(body=_TOKEN)
    )
    for method, path, scope, handle, described in ROUTES:
        app.add_api_route(
            path,
            _endpoint(scope, handle),
            methods=[method],
            name=f"wizzgift.{handle.__name__}",
            summary=(handle.__doc__ or "").strip() or None,
            openapi_extra=described,
        )
    return app
