"""The error envelope, request ids, authentication and scopes, tenant isolation, unknown routes,
health and the API description."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from giftwell.domain.access import OPERATOR_SCOPES, SCOPES
from giftwell.services.access import tokens
from giftwell.services.runtime import Runtime
from tests import factories
from tests.conftest import FakeClock
from tests.functional.support import (
    ENVELOPE_KEYS,
    Api,
    assert_ledger_ok,
    expect_error,
)

CARD = "card_01HZZZZZZZZZZZZZZZZZZZZZZZ"
TRF = "trf_01HZZZZZZZZZZZZZZZZZZZZZZZ"

# Every scope a tenant may hold: `admin` is only for the operator account's tokens.
TENANT_SCOPES = [s for s in SCOPES if s not in OPERATOR_SCOPES]


def routes(card: str, transfer: str, to_card: str) -> list[tuple[str, str, Any, str]]:
    """Every native route with a valid body, and the scope it needs."""
    return [
        ("GET", "/v1/cards", None, "cards:read"),
        ("GET", f"/v1/cards/{card}", None, "cards:read"),
        ("POST", "/v1/cards/lookup", {"code": "AAAA-BBBB-CCCC-DDDD"}, "cards:read"),
        ("GET", f"/v1/cards/{card}/transfers", None, "cards:read"),
        ("GET", f"/v1/transfers/{transfer}", None, "cards:read"),
        ("POST", "/v1/cards", {"currency": "EUR", "amount": 100}, "cards:write"),
        ("POST", f"/v1/cards/{card}/activate", {"amount": 100}, "cards:write"),
        ("POST", f"/v1/cards/{card}/reload", {"amount": 100}, "cards:write"),
        ("POST", f"/v1/cards/{card}/transfer", {"to_card": to_card, "amount": 100}, "cards:write"),
        ("POST", f"/v1/cards/{card}/adjust", {"amount": 100, "reason": "x"}, "cards:write"),
        ("POST", f"/v1/cards/{card}/block", {"reason": "x"}, "cards:write"),
        ("POST", f"/v1/cards/{card}/unblock", None, "cards:write"),
        ("POST", f"/v1/cards/{card}/disable", None, "cards:write"),
        ("POST", f"/v1/cards/{card}/redeem", {"amount": 100}, "cards:redeem"),
        ("POST", f"/v1/transfers/{transfer}/capture", {"amount": 1}, "cards:redeem"),
        ("POST", f"/v1/transfers/{transfer}/void", None, "cards:redeem"),
        ("POST", f"/v1/transfers/{transfer}/refund", {"amount": 1}, "cards:redeem"),
    ]


# --- the envelope and request ids ---------------------------------------------------------------


async def test_error_envelope_has_the_documented_shape(api: Api) -> None:
    r = await api.call("GET", f"/v1/cards/{CARD}")
    err = expect_error(r, 404, "not_found", "card")
    assert set(err) == ENVELOPE_KEYS
    assert err["type"] == "invalid_request_error"
    assert err["request_id"].startswith("req_")

    card = await api.new_card("EUR", 100)
    err = await api.error(
        "POST", f"/v1/cards/{card['id']}/redeem", {"amount": 101}, status=422, code="insufficient_funds", param="amount"
    )
    assert err["type"] == "card_error"
    err = await api.error(
        "POST", "/v1/cards", {"currency": "EUR", "amount": 1.5}, status=422, code="validation_error", param="amount"
    )
    assert err["type"] == "invalid_request_error"


async def test_every_response_has_a_request_id(api: Api, app_client: httpx.AsyncClient) -> None:
    responses = [
        await app_client.get("/healthz"),
        await app_client.get("/openapi.json"),
        await app_client.get("/v1/cards"),  # 401
        await app_client.get("/nowhere"),
        await api.call("GET", "/v1/cards"),
        await api.call("POST", "/v1/cards", {"currency": "EUR"}),
        await api.call("POST", "/v1/cards", {"currency": "nope"}),
    ]
    rids = [r.headers["x-request-id"] for r in responses]
    assert all(rid.startswith("req_") and len(rid) > 10 for rid in rids)
    assert len(set(rids)) == len(rids)


async def test_incoming_request_and_correlation_ids_are_echoed(api: Api, app_client: httpx.AsyncClient) -> None:
    r = await api.call("GET", f"/v1/cards/{CARD}", headers={"X-Request-Id": "client-42.a:b"})
    assert r.headers["x-request-id"] == "client-42.a:b"
    assert r.json()["error"]["request_id"] == "client-42.a:b"

    r = await api.call("GET", f"/v1/cards/{CARD}", headers={"X-Correlation-Id": "corr-9"})
    assert (r.headers["x-request-id"], r.headers["x-correlation-id"]) == ("corr-9", "corr-9")
    assert r.json()["error"]["request_id"] == "corr-9"

    r = await api.call("GET", "/v1/cards", headers={"X-Request-Id": "rid-1", "X-Correlation-Id": "corr-1"})
    assert r.status_code == 200
    assert (r.headers["x-request-id"], r.headers["x-correlation-id"]) == ("rid-1", "corr-1")

    r = await app_client.get("/healthz", headers={"X-Request-Id": "probe-7"})
    assert r.headers["x-request-id"] == "probe-7"

    # Something that is not a plain token is not echoed (no header injection, no log forging).
    for bad in ("two words", "x" * 201, "a\tb"):
        r = await api.call("GET", "/v1/cards", headers={"X-Request-Id": bad})
        assert r.headers["x-request-id"].startswith("req_")
        assert r.headers["x-request-id"] != bad


# --- authentication and scopes -------------------------------------------------------------------


async def test_missing_or_malformed_token_is_401_with_a_challenge(app_client: httpx.AsyncClient) -> None:
    for headers in (
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer   "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ):
        for method, path, body in (
            ("GET", "/v1/cards", None),
            ("POST", "/v1/cards", {"currency": "EUR"}),
            ("POST", f"/v1/transfers/{TRF}/void", None),
        ):
            r = await app_client.request(method, path, json=body, headers=headers)
            err = expect_error(r, 401, "unauthorized", None)
            assert err["type"] == "authentication_error"
            assert r.headers["www-authenticate"] == 'Bearer realm="giftwell"'


async def test_unknown_revoked_or_expired_token_is_401_invalid_token(
    api: Api, rt: Runtime, clock: FakeClock, app_client: httpx.AsyncClient
) -> None:
    async with rt.uow() as uow:
        revoked = await tokens.create_token(uow, account_id=api.tenant.account_id, scopes=TENANT_SCOPES)
        expiring = await tokens.create_token(
            uow, account_id=api.tenant.account_id, scopes=TENANT_SCOPES, expires_at=clock.now + timedelta(hours=1)
        )
        await uow.commit()
    assert (await app_client.get("/v1/cards", headers={"Authorization": f"Bearer {revoked.token}"})).status_code == 200
    assert (await app_client.get("/v1/cards", headers={"Authorization": f"Bearer {expiring.token}"})).status_code == 200
    async with rt.uow() as uow:
        await tokens.revoke_token(uow, account_id=api.tenant.account_id, token_id=revoked.id)
        await uow.commit()
    clock.advance(hours=2)

    for token in ("gw_not-a-real-token", api.tenant.token + "x", revoked.token, expiring.token):
        for method, path in (("GET", "/v1/cards"), ("POST", f"/v1/cards/{CARD}/redeem")):
            r = await app_client.request(method, path, json={"amount": 1}, headers={"Authorization": f"Bearer {token}"})
            expect_error(r, 401, "unauthorized", None)
            assert r.headers["www-authenticate"] == 'Bearer realm="giftwell", error="invalid_token"'
    # The scheme name is case-insensitive.
    assert (
        await app_client.get("/v1/cards", headers={"Authorization": f"bearer {api.tenant.token}"})
    ).status_code == 200


async def with_scopes(owner: Api, rt: Runtime, scopes: list[str]) -> Api:
    """The same account, through a token carrying only `scopes`."""
    async with rt.uow() as uow:
        tok = await tokens.create_token(uow, account_id=owner.tenant.account_id, scopes=scopes)
        await uow.commit()
    return Api(owner.client, factories.Tenant(owner.tenant.account_id, owner.tenant.name, tok.token))


async def test_each_route_needs_its_scope(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 5000)
    peer = await api.new_card("EUR", 0)
    hold = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 10, "capture": False})
    before = await api.card(card["id"])
    table = routes(card["id"], hold["id"], peer["id"])
    card_scopes = {"cards:read", "cards:write", "cards:redeem"}
    assert {needed for *_, needed in table} == card_scopes

    for scope in card_scopes:
        lacking = await with_scopes(api, rt, [s for s in card_scopes if s != scope])
        for method, path, body, needed in table:
            if needed == scope:
                err = await lacking.error(method, path, body, status=403, code="insufficient_scope", param="scope")
                assert err["type"] == "permission_error"
                assert err["required"] == scope
                assert scope in err["message"]

    # Refused calls changed nothing.
    assert await api.card(card["id"]) == before
    assert (await api.get(f"/v1/transfers/{hold['id']}"))["status"] == "pending"
    assert len(await api.list_all()) == 2

    # A token with just the one scope gets past the check, to a real answer.
    for scope in card_scopes:
        only = await with_scopes(api, rt, [scope])
        for method, path, body, needed in table:
            if needed == scope:
                r = await only.call(method, path, body)
                assert r.status_code not in (401, 403), (scope, path, r.text)


async def test_insufficient_scope_carries_the_rfc_6750_challenge(api: Api, rt: Runtime) -> None:
    reader = await with_scopes(api, rt, ["cards:read"])
    r = await reader.call("POST", "/v1/cards", {"currency": "EUR"})
    expect_error(r, 403, "insufficient_scope", "scope")
    assert r.headers["www-authenticate"] == 'Bearer realm="giftwell", error="insufficient_scope", scope="cards:write"'


# --- tenant isolation ----------------------------------------------------------------------------


async def test_another_accounts_card_and_transfers_are_404(api: Api, other: Api, rt: Runtime) -> None:
    theirs = await other.new_card("EUR", 5000, pin="1234")
    their_peer = await other.new_card("EUR", 100)
    hold = await other.post(f"/v1/cards/{theirs['id']}/redeem", {"amount": 500, "capture": False})
    redeemed = await other.post(f"/v1/cards/{theirs['id']}/redeem", {"amount": 700})
    mine = await api.new_card("EUR", 5000)
    before = await other.card(theirs["id"])

    for method, path, body, _scope in routes(theirs["id"], hold["id"], their_peer["id"]):
        if path in ("/v1/cards", "/v1/cards/lookup"):
            continue
        param = "transfer" if path.startswith("/v1/transfers") else "card"
        err = await api.error(method, path, body, status=404, code="not_found", param=param)
        assert theirs["code"] not in str(err)
    await api.error("POST", f"/v1/transfers/{redeemed['id']}/refund", status=404, code="not_found", param="transfer")
    await api.error("POST", "/v1/cards/lookup", {"code": theirs["code"]}, status=404, code="not_found", param="code")
    await api.error(
        "POST",
        f"/v1/cards/{mine['id']}/transfer",
        {"to_card": theirs["id"], "amount": 1},
        status=404,
        code="not_found",
        param="to_card",
    )
    # The same calls with an idempotency key do not leak either.
    await api.error(
        "POST", f"/v1/cards/{theirs['id']}/redeem", {"amount": 1}, status=404, code="not_found", param="card", key="x1"
    )

    assert await other.card(theirs["id"]) == before
    assert (await other.get(f"/v1/transfers/{hold['id']}"))["status"] == "pending"
    assert (await other.get(f"/v1/transfers/{redeemed['id']}"))["refunded_amount"] == 0
    assert [c["id"] for c in await api.list_all()] == [mine["id"]]
    await assert_ledger_ok(rt)


# --- routes, health and docs --------------------------------------------------------------------


async def test_unknown_route_and_method_use_the_envelope(api: Api, app_client: httpx.AsyncClient) -> None:
    for path in ("/nowhere", "/v1", "/v3/cards", "/v1/cards/x/y/z"):
        err = expect_error(await app_client.get(path), 404, "not_found", None)
        assert err["type"] == "invalid_request_error"
    # `/v2` is WeGift's dialect: its own body there (docs/dialects/wegift.md).
    assert (await app_client.get("/v2/cards")).json()["type"] == "not_found"
    expect_error(await api.call("DELETE", "/v1/cards"), 405, "method_not_allowed", None)
    expect_error(await api.call("PUT", f"/v1/cards/{CARD}"), 405, "method_not_allowed", None)


async def test_healthz(app_client: httpx.AsyncClient) -> None:
    r = await app_client.get("/healthz")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"status": "ok"}


async def test_openapi_lists_the_v1_paths_and_docs_serve_html(app_client: httpx.AsyncClient) -> None:
    r = await app_client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["info"]["title"] == "Giftwell"
    paths = spec["paths"]
    expected = {
        "/v1/cards": {"get", "post"},
        "/v1/cards/lookup": {"post"},
        "/v1/cards/{card_id}": {"get"},
        "/v1/cards/{card_id}/activate": {"post"},
        "/v1/cards/{card_id}/reload": {"post"},
        "/v1/cards/{card_id}/redeem": {"post"},
        "/v1/cards/{card_id}/transfer": {"post"},
        "/v1/cards/{card_id}/adjust": {"post"},
        "/v1/cards/{card_id}/block": {"post"},
        "/v1/cards/{card_id}/unblock": {"post"},
        "/v1/cards/{card_id}/disable": {"post"},
        "/v1/cards/{card_id}/transfers": {"get"},
        "/v1/transfers/{transfer_id}": {"get"},
        "/v1/transfers/{transfer_id}/capture": {"post"},
        "/v1/transfers/{transfer_id}/void": {"post"},
        "/v1/transfers/{transfer_id}/refund": {"post"},
        "/healthz": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path
    list_params = {p["name"] for p in paths["/v1/cards"]["get"]["parameters"]}
    assert {
        "status",
        "currency",
        "recipient_email",
        "sender_email",
        "code_suffix",
        "created_gte",
        "created_lte",
        "sort",
        "limit",
        "cursor",
    } <= list_params

    docs = await app_client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in docs.text


async def test_unexpected_failure_is_a_500_envelope_with_the_request_id(make_app) -> None:
    app = make_app()

    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/v1/_boom", boom, methods=["GET"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.get("/v1/_boom", headers={"X-Request-Id": "probe-500"})
    assert r.status_code == 500
    err = r.json()["error"]
    assert (err["type"], err["code"], err["request_id"]) == ("api_error", "internal_error", "probe-500")
    assert r.headers["x-request-id"] == "probe-500"
    assert "boom" not in r.text
