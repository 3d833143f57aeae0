"""Tests generated from the route table: every `/v1/` route of `create_app` (whoever added it)
requires a bearer token and exactly one scope of the registry, and no route lets one tenant see
or touch another's objects (the isolation matrix). Both databases.

A new route extends the tables below when it needs to: a path parameter the factories do not
know, a required body, an object in a particular state. The tests fail, naming the route, until
it does.

Tenants hold every scope an account may hold (all but `admin`, which only the operator's tokens
carry). Both tenants are funded and the operator has a product in the catalog, so they can place
orders."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from giftwell.dialects import sanctum
from giftwell.domain.access import ACCOUNT_SCOPES, OPERATOR_SCOPES, SCOPES
from giftwell.services.access import tokens
from giftwell.services.catalog.upstream import config
from giftwell.services.runtime import Runtime
from giftwell.store.models import Transfer
from tests import dbdump, factories, signing
from tests.functional.limits_helpers import client
from tests.functional.support import Api, expect_error
from tests.oauth_flow import REDIRECT
from tests.signing import KeyPair

V1 = "/v1/"
# Routes under /v1/ callable without a token, with the reason. None.
PUBLIC: dict[tuple[str, str], str] = {}
# Routes that need a token but no particular scope, with the reason.
TOKEN_ONLY: dict[tuple[str, str], str] = {("GET", "/v1/ping"): "checks a token: any scope will do"}
# Counters change with every request, whoever makes it: not tenant data.
NOT_TENANT_DATA = ("rate_limit_counters",)
# Routes outside the isolation matrix because what they serve is not any tenant's: the catalog is
# shared by every buyer by design (docs/orders.md). Each is checked instead by
# `test_shared_routes_are_the_same_for_every_tenant`: a read answers every tenant alike, a write
# needs `admin`, which only the operator's tokens carry. Nothing else belongs here: the tables
# test allows only a GET under `products:read` or a route under `admin`.
SHARED: dict[tuple[str, str], str] = {
    ("GET", "/v1/products"): "the catalog: every account with products:read browses the same products",
    ("GET", "/v1/products/{product_id}"): "a catalog product: the same for every account with products:read",
    ("POST", "/v1/products"): "adds to the shared catalog: the operator only (admin)",
    ("PATCH", "/v1/products/{product_id}"): "changes the shared catalog: the operator only (admin)",
    ("POST", "/v1/suppliers"): "adds an upstream supplier of the shared catalog: the operator only (admin)",
    ("GET", "/v1/suppliers"): "the shared catalog's upstream suppliers: the operator only (admin)",
    ("GET", "/v1/suppliers/{name}"): "an upstream supplier of the shared catalog: the operator only (admin)",
    ("PATCH", "/v1/suppliers/{name}"): "changes an upstream supplier of the shared catalog: the operator only (admin)",
    ("POST", "/v1/signing-keys"): "registers a client's key for any account: the operator only (admin)",
    ("GET", "/v1/signing-keys"): "lists any account's signing keys: the operator only (admin)",
    ("DELETE", "/v1/signing-keys/{kid}"): "revokes any account's signing key: the operator only (admin)",
}
# The key id of the signing key the operator fixture registers for tenant A.
SHARED_KID = "route-table-kid"
# The shared objects the SHARED routes are called on (the catalog's product made in setup).
SHARED_OBJECTS: dict[str, str] = {"product_id": factories.PRODUCT["id"], "kid": SHARED_KID, "name": "route-table"}
# Query parameters of SHARED routes, naming tenant A's account.
SHARED_QUERIES: dict[tuple[str, str], Callable[[str], dict[str, str]]] = {
    ("GET", "/v1/signing-keys"): lambda account: {"account": account},
}
# Each tenant's prepaid balance, in the product's currency: room for every order the tests place.
FUNDS = 100_000


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    dependant: Dependant
    body: Any  # the body parameter's annotation, None without one
    body_required: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.dependant.path_params)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def api_routes(app: FastAPI) -> Iterator[Route]:
    """Every API route of the app, one per method, with the path and dependencies it has once
    its routers are included (prefixes, router-level dependencies)."""
    for ctx in iter_route_contexts(app.routes):
        if not isinstance(ctx.original_route, APIRoute):
            continue
        field = ctx.body_field
        for method in sorted(ctx.methods or ()):
            yield Route(
                method,
                ctx.path,
                ctx.dependant,
                field.field_info.annotation if field is not None else None,
                field is not None and field.field_info.is_required(),
            )


def v1_routes(app: FastAPI) -> list[Route]:
    found = [r for r in api_routes(app) if r.path.startswith(V1)]
    # Guard against a walk that silently finds nothing (a FastAPI change, say).
    assert len(found) >= 20, [str(r) for r in found]
    return found


def declared_scopes(dependant: Dependant) -> list[str]:
    """The scopes of every `require(scope)` in the route's dependency tree."""
    out: list[str] = []

    def walk(d: Dependant) -> None:
        scope = getattr(d.call, "scope", None)
        if isinstance(scope, str):
            out.append(scope)
        for sub in d.dependencies:
            walk(sub)

    walk(dependant)
    return out


# -- objects, bodies ----------------------------------------------------------------------------

Objects = dict[str, str]
Factory = Callable[[Api], Awaitable[Objects]]


async def make_card(api: Api, *, amount: int | None = 5000) -> Objects:
    card = await api.new_card(amount=amount)
    return {"card_id": card["id"], "card_code": card["code"]}


async def make_inactive_card(api: Api) -> Objects:
    return await make_card(api, amount=None)


async def make_blocked_card(api: Api) -> Objects:
    objs = await make_card(api)
    await api.post(f"/v1/cards/{objs['card_id']}/block")
    return objs


async def _redemption(api: Api, *, capture: bool) -> Objects:
    objs = await make_card(api)
    moved = await api.post(f"/v1/cards/{objs['card_id']}/redeem", {"amount": 100, "capture": capture})
    return {"transfer_id": moved["id"]}


async def make_hold(api: Api) -> Objects:
    return await _redemption(api, capture=False)


async def make_redemption(api: Api) -> Objects:
    return await _redemption(api, capture=True)


async def make_client(api: Api) -> Objects:
    body = {"name": "Isolation", "redirect_uris": [REDIRECT], "scopes": ["cards:read"]}
    made = await api.post("/v1/clients", body, status=201)
    return {"client_id": made["client_id"]}


def order_body(reference: str) -> dict[str, Any]:
    """A small order: one card of the catalog's product, fulfilled at once."""
    return {"reference": reference, "items": [{"product": factories.PRODUCT["id"], "amount": 1000}]}


async def make_order(api: Api) -> Objects:
    reference = f"route-table-{uuid.uuid4().hex}"  # unique, and no id is a prefix of another
    made = await api.post("/v1/orders", order_body(reference))
    assert made["status"] == "completed", made
    return {"order_id": made["id"], "order_reference": reference}


ENDPOINT_BODY = {"url": "https://hooks.example.com/giftwell", "events": ["*"]}


async def make_endpoint(api: Api) -> Objects:
    made = await api.post("/v1/webhook-endpoints", ENDPOINT_BODY, status=201)
    return {"endpoint_id": made["id"]}


async def make_event(api: Api) -> Objects:
    card = await api.new_card()
    page = await api.get("/v1/events", params={"type": "card.created", "limit": 1})
    (event,) = page["data"]
    assert event["data"]["card"] == card["id"], event
    return {"event_id": event["id"]}


async def make_receipt(api: Api) -> Objects:
    order = await make_order(api)
    page = await api.get("/v1/receipts", params={"order": order["order_id"]})
    (receipt,) = page["data"]
    return {"receipt_id": receipt["id"]}


async def make_funding_source(api: Api) -> Objects:
    (prepaid,) = (await api.get("/v1/funding-sources"))["data"]
    return {"funding_source_id": prepaid["id"]}


# Path parameter -> how to make such an object in a tenant. A route with a parameter missing
# here fails the matrix: add a factory for it.
FACTORIES: dict[str, Factory] = {
    "card_id": make_card,
    "transfer_id": make_hold,
    "client_id": make_client,
    "order_id": make_order,
    "endpoint_id": make_endpoint,
    "event_id": make_event,
    "receipt_id": make_receipt,
    # No route takes it in its path: the orders' body names it, and lists must not leak it.
    "funding_source_id": make_funding_source,
}
# Routes whose object must be in a particular state for the owner's own call to succeed.
ROUTE_FACTORIES: dict[tuple[str, str], dict[str, Factory]] = {
    ("POST", "/v1/cards/{card_id}/activate"): {"card_id": make_inactive_card},
    ("POST", "/v1/cards/{card_id}/unblock"): {"card_id": make_blocked_card},
    ("POST", "/v1/transfers/{transfer_id}/refund"): {"transfer_id": make_redemption},
}

Body = Callable[[Objects], Any]
# A minimal valid body per route that requires one, built from the caller's own spare objects
# (for the fields that name another object). A route with a required body missing here fails.
BODIES: dict[tuple[str, str], Body] = {
    ("POST", "/v1/cards"): lambda o: {"currency": "EUR", "amount": 100},
    ("POST", "/v1/cards/lookup"): lambda o: {"code": o["card_code"]},
    # Name no object: another tenant's code finds nothing (tests/functional/cards/test_card_query_api.py).
    ("POST", "/v1/cards/query"): lambda o: {},
    ("POST", "/v1/cards/count"): lambda o: {},
    ("POST", "/v1/cards/{card_id}/activate"): lambda o: {"amount": 100},
    ("POST", "/v1/cards/{card_id}/reload"): lambda o: {"amount": 100},
    ("POST", "/v1/cards/{card_id}/redeem"): lambda o: {"amount": 100},
    ("POST", "/v1/cards/{card_id}/transfer"): lambda o: {"to_card": o["card_id"], "amount": 100},
    ("POST", "/v1/cards/{card_id}/adjust"): lambda o: {"amount": 100, "reason": "isolation test"},
    ("POST", "/v1/cards/{card_id}/send"): lambda o: {"channel": "email", "to": "ada@example.com"},
    # A card never sent: the resend names channel and address itself.
    ("POST", "/v1/cards/{card_id}/resend"): lambda o: {"channel": "sms", "to": "+15550100123"},
    ("POST", "/v1/clients"): lambda o: {"name": "Isolation", "redirect_uris": [REDIRECT], "scopes": ["cards:read"]},
    ("PUT", "/v1/account/expiry-policy"): lambda o: {"min_days": 30, "rule": "isolation test"},
    # The same reference from both tenants (references are unique per account), paid from the
    # caller's own funding source: B naming A's is a 404.
    ("POST", "/v1/orders"): lambda o: {**order_body("route-table"), "funding_source": o["funding_source_id"]},
    # The same URL from both tenants: names no object.
    ("POST", "/v1/webhook-endpoints"): lambda o: ENDPOINT_BODY,
    ("PATCH", "/v1/webhook-endpoints/{endpoint_id}"): lambda o: {"description": "changed by the route table"},
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/recover"): lambda o: {"since": "2000-01-01T00:00:00Z"},
    # Replayed to one endpoint: the body names it, so another tenant's endpoint there is a 404.
    ("POST", "/v1/events/{event_id}/replay"): lambda o: {"endpoint": o["endpoint_id"]},
    # SHARED (the operator's): a new product each time, a harmless change.
    ("POST", "/v1/products"): lambda o: {**factories.PRODUCT, "id": f"route-table-{uuid.uuid4().hex[:12]}"},
    ("PATCH", "/v1/products/{product_id}"): lambda o: {"description": "changed by the route table"},
    ("PATCH", "/v1/suppliers/{name}"): lambda o: {"max_quantity": 30},
    ("POST", "/v1/suppliers"): lambda o: {
        "name": f"route-table-{uuid.uuid4().hex[:12]}",
        "base_url": "https://upstream.example/api/b2b",
        "client_id": "route-table",
        "client_secret": "route-table-secret",
    },
    # SHARED (the operator's): a new key for tenant A's account each time.
    ("POST", "/v1/signing-keys"): lambda o: {
        "account": o.get("account", "acct_none"),
        "kid": uuid.uuid4().hex,
        "public_key": KeyPair().public_pem,
    },
}

# Query parameters that name a tenant's object, for list routes, built from the caller's spare
# objects: A's own list, so filtered, shows A's object; B's shows none of A's.
LIST_QUERIES: dict[tuple[str, str], Callable[[Objects], dict[str, str]]] = {
    ("GET", "/v1/orders"): lambda o: {"reference": o["order_reference"]},
    ("GET", "/v1/receipts"): lambda o: {"order": o["order_id"]},
}
# Reads that answer sums, not objects, so no id can leak: each is called with its query as A
# (whose cards hold value, one expiring within a year) and as a tenant with no cards, whose
# answer must have nothing in `data` where A's has something.
AGGREGATES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/v1/reports/liability"): {},
    ("GET", "/v1/reports/breakage"): {"rate": "0.1"},
    ("GET", "/v1/reports/expiring"): {"days": "366"},
    ("GET", "/v1/reports/expiring.csv"): {"days": "366"},
}


def body_for(route: Route, objs: Objects) -> Any:
    make = BODIES.get(route.key)
    if make is None:
        assert not route.body_required, f"{route}: requires a body; add a minimal one to BODIES"
        return None
    return make(objs)


def fill(path: str, objs: Objects) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: objs[m.group(1)], path)


async def spare(api: Api) -> Objects:
    """One object of each kind the factories know, for bodies that name other objects."""
    objs: Objects = {}
    for make in FACTORIES.values():
        objs.update(await make(api))
    return objs


async def objects_for(route: Route, api: Api) -> Objects:
    objs: Objects = {}
    overrides = ROUTE_FACTORIES.get(route.key, {})
    for param in route.params:
        make = overrides.get(param) or FACTORIES.get(param)
        assert make is not None, f"{route}: no factory for the path parameter {param!r}; add one to FACTORIES"
        objs.update(await make(api))
    return objs


async def token(rt: Runtime, account_id: str, scopes: list[str]) -> dict[str, str]:
    async with rt.uow() as uow:
        made = await tokens.create_token(uow, account_id=account_id, scopes=scopes)
        await uow.commit()
    return {"Authorization": f"Bearer {made.token}"}


def expect_not_found(r: httpx.Response, route: Route) -> None:
    assert r.status_code == 404, f"{route}: {r.status_code} {r.text}"
    err = r.json()["error"]
    assert err["code"] == "not_found", f"{route}: {r.text}"
    assert err["message"] != "no such route", f"{route}: the path did not reach the route"


async def snapshot(rt: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    return await dbdump.rows(rt, skip=NOT_TENANT_DATA)


async def transfer_ids(rt: Runtime, account_id: str) -> set[str]:
    """Every transfer posted on the account's behalf (its funding, its orders' charges, its cards'
    movements): none may show in another tenant's answer."""
    async with rt.engine.connect() as conn:
        found = await conn.execute(sa.select(Transfer.id).where(Transfer.account_id == account_id))
        return set(found.scalars())


@pytest.fixture
async def operator(rt: Runtime, api: Api, other: Api) -> Api:
    """The operator (one per database) with the catalog's product, and both tenants funded."""
    op = Api(api.client, await factories.operator(rt))
    await factories.product(rt)
    await signing.register(rt, api.tenant.account_id, kid=SHARED_KID)
    await rt.transact(
        lambda uow: config.add_supplier(
            uow,
            name=SHARED_OBJECTS["name"],
            kind="wizzgift",
            base_url="https://upstream.example/api/b2b",
            client_id="route-table",
            client_secret="route-table-secret",
        )
    )
    for t in (api, other):
        await factories.fund(rt, t.tenant.account_id, FUNDS, factories.PRODUCT["currency"])
    return op


# -- tokens and scopes --------------------------------------------------------------------------


def test_the_route_table_tables_name_real_routes(app_client):
    """A renamed or removed route must not leave a stale entry that no longer tests anything."""
    keys = {r.key for r in api_routes(app_client.app)}
    for table in (PUBLIC, TOKEN_ONLY, SHARED, ROUTE_FACTORIES, BODIES, LIST_QUERIES, SHARED_QUERIES, AGGREGATES):
        assert set(table) <= keys, set(table) - keys


def test_only_catalog_reads_and_operator_tools_are_exempt_from_the_matrix(app_client):
    """SHARED takes a route out of the isolation matrix: only reads of the shared catalog and
    the operator's own tools (`admin`) may be there, and every `admin` route must be."""
    for route in v1_routes(app_client.app):
        scopes = declared_scopes(route.dependant)
        operator_only = bool(scopes) and set(scopes) <= OPERATOR_SCOPES
        if route.key in SHARED:
            assert operator_only or (route.method == "GET" and scopes == ["products:read"]), route
        else:
            assert not operator_only, f"{route}: an operator tool; add it to SHARED with the reason"


async def test_every_v1_route_needs_a_token_and_exactly_one_scope(app_client, rt, api, operator):
    problems: list[str] = []
    dummy = {p: f"{p}_none" for p in FACTORIES} | {"card_code": "NONE-NONE"}
    for route in v1_routes(app_client.app):
        if route.key in PUBLIC:
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: f"{m.group(1)}_none", route.path)
        body = body_for(route, dummy)
        for headers in ({}, {"Authorization": "Bearer gw_not-a-token"}, {"Authorization": "Basic eDp5"}):
            r = await app_client.request(route.method, path, json=body, headers=headers)
            if r.status_code != 401 or not r.headers.get("www-authenticate", "").startswith("Bearer"):
                problems.append(f"{route} with {headers or 'no token'}: {r.status_code}, expected 401 + Bearer")
        scopes = declared_scopes(route.dependant)
        if route.key in TOKEN_ONLY:
            if scopes:
                problems.append(f"{route}: listed as token-only but requires {scopes}")
            r = await app_client.request(
                route.method, path, json=body, headers=await token(rt, api.tenant.account_id, ["products:read"])
            )
            if r.status_code in (401, 403):
                problems.append(f"{route}: a token with any one scope got {r.status_code}")
            continue
        if len(scopes) != 1 or scopes[0] not in SCOPES:
            problems.append(f"{route}: declares the scopes {scopes}, expected exactly one of the registry")
            continue
        (scope,) = scopes
        # The operator's tools are called by the operator; everything else by a tenant. Either
        # with every scope it may hold but this one, then with just this one.
        caller, may_hold = (operator.tenant, SCOPES) if scope in OPERATOR_SCOPES else (api.tenant, ACCOUNT_SCOPES)
        lacking = await token(rt, caller.account_id, [s for s in may_hold if s != scope])
        r = await app_client.request(route.method, path, json=body, headers=lacking)
        if r.status_code != 403:
            problems.append(f"{route}: a token without {scope} got {r.status_code}, expected 403")
        else:
            expect_error(r, 403, "insufficient_scope", "scope")
        only = await token(rt, caller.account_id, [scope])
        r = await app_client.request(route.method, path, json=body, headers=only)
        # Past the route's gate: it may refuse for another reason (a client with scopes beyond
        # the token's own), never for want of a scope the route did not declare.
        if r.status_code == 401 or (r.status_code == 403 and r.json()["error"].get("required") is not None):
            problems.append(f"{route}: a token with just {scope} got {r.status_code}: {r.text}")
    assert not problems, "\n".join(problems)


# -- the isolation matrix -----------------------------------------------------------------------


async def test_isolation_matrix_another_tenants_object_is_always_404(app_client, rt, api, other, operator):
    """For every /v1/ route with a path parameter: tenant B, holding every scope, calling it on
    tenant A's object gets 404 and changes nothing in the database; a body naming A's object
    (B's own object in the path) is 404 too; and A's own identical call succeeds, so the 404 is
    the tenant check and nothing else."""
    a, b = api, other
    a_spare, b_spare = await spare(a), await spare(b)
    tried = 0
    for route in v1_routes(app_client.app):
        if not route.params or route.key in SHARED:
            continue
        tried += 1
        a_objs = await objects_for(route, a)
        path = fill(route.path, a_objs)

        before = await snapshot(rt)
        expect_not_found(await b.call(route.method, path, body_for(route, b_spare)), route)
        assert await snapshot(rt) == before, f"{route}: tenant B's call changed the database"

        if body_for(route, a_spare) != body_for(route, b_spare):  # the body names objects too
            b_objs = await objects_for(route, b)
            before = await snapshot(rt)
            r = await b.call(route.method, fill(route.path, b_objs), body_for(route, a_spare))
            expect_not_found(r, route)
            assert await snapshot(rt) == before, f"{route}: a body naming A's object changed the database"

        r = await a.call(route.method, path, body_for(route, a_spare))
        assert r.status_code < 300, f"{route}: the owner's own call failed (fix the tables?): {r.text}"
    assert tried >= 19


async def test_isolation_matrix_routes_without_a_path_parameter(app_client, rt, api, other, operator, make_api):
    """Lists (and the account, its statement) as tenant B show none of A's objects, A's account
    or A's transfers (which A's own call does show), also when filtered by A's object (LIST_QUERIES);
    a body naming A's object (a lookup by A's card code) is 404 for B and changes nothing.
    Sums (AGGREGATES) as a tenant with no cards are empty where A's are not."""
    a, b = api, other
    a_spare, b_spare = await spare(a), await spare(b)
    a_ids = {a.tenant.account_id, *a_spare.values(), *await transfer_ids(rt, a.tenant.account_id)}
    expiring = await factories.card(rt, a.tenant.account_id, amount=100, expires_at=rt.clock() + timedelta(days=30))
    a_ids.add(expiring.card.id)
    empty = await make_api()
    lists = 0
    for route in v1_routes(app_client.app):
        if route.params or route.key in SHARED:
            continue
        if route.key in AGGREGATES:
            lists += 1
            query = AGGREGATES[route.key]
            theirs, mine = (
                await empty.call("GET", route.path, params=query),
                await a.call("GET", route.path, params=query),
            )
            assert (theirs.status_code, mine.status_code) == (200, 200), f"{route}: {theirs.text} {mine.text}"
            if route.path.endswith(".csv"):
                assert len(theirs.text.splitlines()) == 1 < len(mine.text.splitlines()), route
            else:
                assert theirs.json()["data"] == [] != mine.json()["data"], f"{route}: {theirs.text} {mine.text}"
            continue
        if route.method == "GET":
            lists += 1
            queries: list[dict[str, str] | None] = [None]
            if route.key in LIST_QUERIES:
                queries.append(LIST_QUERIES[route.key](a_spare))
            for query in queries:
                r = await b.call("GET", route.path, params=query)
                assert r.status_code == 200, f"{route} {query}: {r.text}"
                leaked = [x for x in a_ids if x in r.text]
                assert not leaked, f"{route} {query}: tenant B sees tenant A's {leaked}"
                mine = await a.call("GET", route.path, params=query)
                assert mine.status_code == 200, f"{route} {query}: {mine.text}"
                assert any(x in mine.text for x in a_ids), f"{route} {query}: A's own call shows none of A's objects"
            continue
        if body_for(route, a_spare) == body_for(route, b_spare):
            continue  # names no object: nothing to isolate (a create)
        before = await snapshot(rt)
        expect_not_found(await b.call(route.method, route.path, body_for(route, a_spare)), route)
        assert await snapshot(rt) == before, f"{route}: tenant B's call changed the database"
        r = await a.call(route.method, route.path, body_for(route, a_spare))
        assert r.status_code < 300, f"{route}: the owner's own call failed: {r.text}"
    assert lists >= 5


async def test_shared_routes_are_the_same_for_every_tenant(app_client, rt, api, other, operator):
    """The SHARED routes instead of the matrix: a catalog read answers tenants A and B with the
    same product(s); an operator tool (a write, or a read under `admin`: any account's keys, the
    suppliers), from a tenant holding every scope an account may, is 403 `insufficient_scope` and
    changes nothing, while the operator's own call succeeds."""
    a, b = api, other
    seen = set()
    for route in v1_routes(app_client.app):
        if route.key not in SHARED:
            continue
        seen.add(route.key)
        path = fill(route.path, SHARED_OBJECTS)
        body = body_for(route, {"account": a.tenant.account_id})
        query = SHARED_QUERIES.get(route.key, lambda _: None)(a.tenant.account_id)
        if route.method == "GET" and declared_scopes(route.dependant) == ["products:read"]:
            ra, rb = await a.call("GET", path), await b.call("GET", path)
            assert ra.status_code == 200, f"{route}: {ra.text}"
            assert SHARED_OBJECTS["product_id"] in ra.text, f"{route}: {ra.text}"
            assert rb.status_code == 200, f"{route}: {rb.text}"
            assert rb.json() == ra.json(), f"{route}: A got {ra.text}, B {rb.text}"
            continue
        for t in (a, b):
            before = await snapshot(rt)
            expect_error(await t.call(route.method, path, body, params=query), 403, "insufficient_scope", "scope")
            assert await snapshot(rt) == before, f"{route}: a tenant's call changed the database"
        r = await operator.call(route.method, path, body, params=query)
        assert r.status_code < 300, f"{route}: the operator's own call failed: {r.text}"
    assert seen == set(SHARED)


# The Sanctum dialect names cards by code: another tenant's code is its 404. Card state needed
# for the owner's own call to succeed, per endpoint.
SANCTUM_CARDS: dict[str, Factory] = {"activate": make_inactive_card, "unblock": make_blocked_card}
SANCTUM_BODY = {"amount": 1, "reason": "isolation test"}


def without_code(body: dict[str, Any]) -> dict[str, Any]:
    if "giftcard" not in body:
        return body
    return {**body, "giftcard": {k: v for k, v in body["giftcard"].items() if k != "code"}}


def sanctum_routes(app: FastAPI) -> list[Route]:
    (mount,) = [m for m in app.routes if isinstance(m, Mount) and m.path == sanctum.MOUNT]
    sub: FastAPI = mount.app  # type: ignore[assignment]
    found = [Route(r.method, sanctum.MOUNT + r.path, r.dependant, r.body, r.body_required) for r in api_routes(sub)]
    assert len(found) >= 7
    return found


async def test_isolation_matrix_sanctum_endpoints(make_app, rt, api, other):
    # B's misses are failed lookups: a guard roomy enough that the owner's calls still get through.
    app = make_app(guess_max_failures=1000)
    async with client(app) as http:
        await _sanctum_matrix(app, rt, Api(http, api.tenant), Api(http, other.tenant))


async def _sanctum_matrix(app: FastAPI, rt: Runtime, a: Api, b: Api) -> None:
    for route in sanctum_routes(app):
        name = route.path.rsplit("/", 1)[1]
        objs = await SANCTUM_CARDS.get(name, make_card)(a)
        body = {"giftcard_code": objs["card_code"], **SANCTUM_BODY}
        unknown = await b.call(route.method, route.path, {**body, "giftcard_code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"})
        assert unknown.status_code == 404, f"{route}: {unknown.text}"
        before = await snapshot(rt)
        r = await b.call(route.method, route.path, body)
        assert r.status_code == 404, f"{route}: {r.text}"
        assert r.json()["message"] == "Giftcard not found", f"{route}: {r.text}"
        # The vendor's 404 echoes the code it was given; otherwise A's card answers B exactly as
        # a code nobody issued does.
        assert without_code(r.json()) == without_code(unknown.json()), f"{route}: {r.text}"
        assert await snapshot(rt) == before, f"{route}: tenant B's call changed the database"
        r = await a.call(route.method, route.path, body)
        assert r.status_code == 200, f"{route}: the owner's own call failed: {r.text}"
