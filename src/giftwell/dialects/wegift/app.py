"""The WeGift v2 sub-application, mounted at `/v2` (seed 002, dialects.md section 1).

| route | scope | what |
|---|---|---|
| `POST /order` | `orders:write` | an order of choice reward links; `idempotency_key` returns the original order whatever the body |
| `GET /order/{id}` | `orders:read` | the order in the seed's shape |
| `GET /order?limit&before&after` | `orders:read` | orders newest first, around an order id |
| `GET /order/{id}/links` | `orders:read` | the order's reward links, balances, clicks and deliveries |
| `GET /product?country_code=` | `products:read` | the products a recipient there may pick |

Each handler authenticates (`X-API-Key`: a Giftwell token of the buyer's account), reads the
request (`wire`), calls one service and writes the answer (`mapping`). `X-Api-Version` may be
absent or the last legacy version, `2023-01-16`. Every failure goes to `errors.respond`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from starlette.responses import Response

from giftwell.dialects.wegift import errors, mapping, wire
from giftwell.domain.access import Principal
from giftwell.http.decimal_json import json_response
from giftwell.http.deps import authenticate
from giftwell.http.oauth import query_params
from giftwell.http.request import get_runtime
from giftwell.services.orders import link_orders
from giftwell.services.runtime import Runtime

MOUNT = "/v2"
API_KEY = "x-api-key"
LEGACY_VERSION = "2023-01-16"

Handler = Callable[[Request, Principal], Awaitable[Response]]


def _endpoint(scope: str, handle: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            version = request.headers.get("x-api-version")
            if version is not None and version.strip() != LEGACY_VERSION:
                raise errors.InvalidVersion(
                    f"X-Api-Version {version[:40]!r} is not served here: send {LEGACY_VERSION} or none."
                )
            principal = await authenticate(request, header=API_KEY)
            principal.require(scope)
            return await handle(request, principal)
        except Exception as exc:  # the one place every failure is put into the vendor's body
            return errors.respond(exc, request)

    endpoint.__name__ = handle.__name__
    endpoint.scope = scope  # type: ignore[attr-defined]
    return endpoint


async def create_order(request: Request, principal: Principal) -> Response:
    req = wire.read_order(wire.json_object(await request.body()))
    placed, _ = await link_orders.place_once(get_runtime(request), account_id=principal.account_id, req=req)
    return json_response(mapping.order(placed), 201)


async def get_order(request: Request, principal: Principal) -> Response:
    order_id = mapping.native_id(request.path_params["order_id"], "ord")
    found = await link_orders.get(get_runtime(request), account_id=principal.account_id, order_id=order_id)
    return json_response(mapping.order(found))


async def list_orders(request: Request, principal: Principal) -> Response:
    def order_id(value: str | None, param: str) -> str | None:
        return None if value is None else mapping.native_id(value, "ord", param=param)

    q = wire.read_list(query_params(request), order_id=order_id)
    found, _ = await link_orders.page(
        get_runtime(request), account_id=principal.account_id, limit=q.limit, before=q.before, after=q.after
    )
    return json_response([mapping.order(o) for o in found])


async def order_links(request: Request, principal: Principal) -> Response:
    order_id = mapping.native_id(request.path_params["order_id"], "ord")
    found = await link_orders.get(get_runtime(request), account_id=principal.account_id, order_id=order_id)
    return json_response(mapping.links(found))


async def list_products(request: Request, principal: Principal) -> Response:
    country = wire.read_country(query_params(request))
    found = await link_orders.catalog_for(get_runtime(request), country=country)
    return json_response([mapping.product(p) for p in found])


# (method, path, native scope, handler)
ROUTES: tuple[tuple[str, str, str, Handler], ...] = (
    ("POST", "/order", "orders:write", create_order),
    ("GET", "/order", "orders:read", list_orders),
    ("GET", "/order/{order_id}", "orders:read", get_order),
    ("GET", "/order/{order_id}/links", "orders:read", order_links),
    ("GET", "/product", "products:read", list_products),
)


def create_app(rt: Runtime) -> FastAPI:
    """The sub-application mounted at `MOUNT`; it shares the runtime with the native API."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.runtime = rt
    errors.install(app)
    for method, path, scope, handle in ROUTES:
        app.add_api_route(path, _endpoint(scope, handle), methods=[method], name=f"wegift.{handle.__name__}")
    return app
