"""The error envelope, request ids, authentication and scopes, tenant isolation, input validation
(always a 4xx naming the field), unknown routes, health and the API description."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import httpx

from giftwell.domain.access import SCOPES
from giftwell.services import access
from giftwell.services.runtime import Runtime
from tests import factories
from tests.conftest import FakeClock
from tests.functional.support import ENVELOPE_KEYS, Api, assert_ledger_ok, expect_error

CARD = "card_01HZZZZZZZZZZZZZZZZZZZZZZZ"
TRF = "trf_01HZZZZZZZZZZZZZZZZZZZZZZZ"


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
        revoked = await access.create_token(uow, account_id=api.tenant.account_id, scopes=list(SCOPES))
        expiring = await access.create_token(
            uow, account_id=api.tenant.account_id, scopes=list(SCOPES), expires_at=clock.now + timedelta(hours=1)
        )
        await uow.commit()
    assert (await app_client.get("/v1/cards", headers={"Authorization": f"Bearer {revoked.token}"})).status_code == 200
    assert (await app_client.get("/v1/cards", headers={"Authorization": f"Bearer {expiring.token}"})).status_code == 200
    async with rt.uow() as uow:
        await access.revoke_token(uow, account_id=api.tenant.account_id, token_id=revoked.id)
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
        tok = await access.create_token(uow, account_id=owner.tenant.account_id, scopes=scopes)
        await uow.commit()
    return Api(owner.client, factories.Tenant(owner.tenant.account_id, owner.tenant.name, tok.token))


async def test_each_route_needs_its_scope(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 5000)
    peer = await api.new_card("EUR", 0)
    hold = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 10, "capture": False})
    before = await api.card(card["id"])
    table = routes(card["id"], hold["id"], peer["id"])
    assert {needed for *_, needed in table} == set(SCOPES)

    for scope in SCOPES:
        lacking = await with_scopes(api, rt, [s for s in SCOPES if s != scope])
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
    for scope in SCOPES:
        only = await with_scopes(api, rt, [scope])
        for method, path, body, needed in table:
            if needed == scope:
                r = await only.call(method, path, body)
                assert r.status_code not in (401, 403), (scope, path, r.text)


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


# --- validation: a 4xx naming the field ---------------------------------------------------------


async def test_create_card_validation_names_the_field(api: Api, clock: FakeClock) -> None:
    past = (clock.now - timedelta(seconds=1)).isoformat()
    naive = (clock.now + timedelta(days=1)).replace(tzinfo=None).isoformat()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"currency": "EUR", "amount": 12.5}, "amount"),
        ({"currency": "EUR", "amount": "12"}, "amount"),
        ({"currency": "EUR", "amount": "12.00"}, "amount"),
        ({"currency": "EUR", "amount": 12.0}, "amount"),
        ({"currency": "EUR", "amount": True}, "amount"),
        ({"currency": "EUR", "amount": -1}, "amount"),
        ({"currency": "EUR", "amount": None, "colour": "red"}, "colour"),
        ({"amount": 100}, "currency"),
        ({"currency": "XYZ", "amount": 100}, "currency"),
        ({"currency": "eur", "amount": 100}, "currency"),
        ({"currency": "EURO", "amount": 100}, "currency"),
        ({"currency": "XAU", "amount": 100}, "currency"),
        ({"currency": 978, "amount": 100}, "currency"),
        ({"currency": "EUR", "expires_at": past}, "expires_at"),
        ({"currency": "EUR", "expires_at": naive}, "expires_at"),
        ({"currency": "EUR", "expires_at": "next tuesday"}, "expires_at"),
        ({"currency": "EUR", "metadata": "notes"}, "metadata"),
        ({"currency": "EUR", "sender": "ann@example.com"}, "sender"),
        ({"currency": "EUR", "recipient": {"name": "x" * 201}}, "recipient.name"),
        ({"currency": "EUR", "pin": 1234}, "pin"),
        ({"currency": "EUR", "code": 12345678}, "code"),
    ]
    for body, param in cases:
        r = await api.call("POST", "/v1/cards", body)
        err = expect_error(r, 422, "validation_error", param)
        assert err["type"] == "invalid_request_error"
    assert await api.list_all() == []


async def test_money_validation_names_the_field(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 5000)
    peer = await api.new_card("EUR", 0)
    hold = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 100, "capture": False})
    red = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 100})
    c = card["id"]
    cases: list[tuple[str, Any, str]] = [
        (f"/v1/cards/{c}/redeem", {"amount": 12.5}, "amount"),
        (f"/v1/cards/{c}/redeem", {"amount": "12"}, "amount"),
        (f"/v1/cards/{c}/redeem", {}, "amount"),
        (f"/v1/cards/{c}/redeem", {"amount": 1, "capture": "no"}, "capture"),
        (f"/v1/cards/{c}/redeem", {"amount": 1, "capture": 0}, "capture"),
        (f"/v1/cards/{c}/redeem", {"amount": 1, "reference": "r" * 201}, "reference"),
        (f"/v1/cards/{c}/redeem", {"amount": 1, "currency": "EUR"}, "currency"),
        (f"/v1/cards/{c}/reload", {"amount": 0.01}, "amount"),
        (f"/v1/cards/{c}/reload", {"amount": 1, "to_card": peer["id"]}, "to_card"),
        (f"/v1/cards/{peer['id']}/activate", {"amount": "5"}, "amount"),
        (f"/v1/cards/{c}/transfer", {"to_card": peer["id"], "amount": 1.5}, "amount"),
        (f"/v1/cards/{c}/transfer", {"to_card": 7, "amount": 1}, "to_card"),
        (f"/v1/cards/{c}/adjust", {"amount": 2.5, "reason": "x"}, "amount"),
        (f"/v1/cards/{c}/adjust", {"amount": 1, "reason": "x" * 501}, "reason"),
        (f"/v1/cards/{c}/block", {"reason": 5}, "reason"),
        (f"/v1/cards/{c}/block", {"why": "x"}, "why"),
        (f"/v1/transfers/{hold['id']}/capture", {"amount": 0.5}, "amount"),
        (f"/v1/transfers/{hold['id']}/capture", {"amount": 1, "final": True}, "final"),
        (f"/v1/transfers/{red['id']}/refund", {"amount": "1"}, "amount"),
        ("/v1/cards/lookup", {}, "code"),
        ("/v1/cards/lookup", {"code": ""}, "code"),
        ("/v1/cards/lookup", {"code": 1234}, "code"),
    ]
    for path, body, param in cases:
        expect_error(await api.call("POST", path, body), 422, "validation_error", param)
    got = await api.card(c)
    assert (got["balance"], got["available"]) == (4900, 4800)
    await assert_ledger_ok(rt)


async def test_list_validation_names_the_parameter(api: Api) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"sort": "name"}, "sort"),
        ({"sort": "+balance"}, "sort"),
        ({"status": "lost"}, "status"),
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"currency": "EU"}, "currency"),
        ({"code_suffix": "12345"}, "code_suffix"),
        ({"code_suffix": "--"}, "code_suffix"),
        ({"created_gte": "yesterday"}, "created_gte"),
        ({"created_lte": "2024-13-01T00:00:00Z"}, "created_lte"),
    ]
    for params, param in cases:
        r = await api.call("GET", "/v1/cards", params=params)
        expect_error(r, 422, "validation_error", param)
    assert (await api.get("/v1/cards", params={"limit": 100}))["data"] == []
    assert (await api.get("/v1/cards", params={"limit": 1}))["data"] == []


async def test_malformed_or_non_object_bodies_are_422(api: Api) -> None:
    card = await api.new_card("EUR", 100)
    json_headers = {**api.headers, "Content-Type": "application/json"}
    for path in ("/v1/cards", f"/v1/cards/{card['id']}/redeem", f"/v1/cards/{card['id']}/block"):
        for raw in (b"{bad json", b'{"amount": 1,}', b"\xff\xfe"):
            r = await api.client.post(path, content=raw, headers=json_headers)
            err = expect_error(r, 422, "validation_error", None)
            assert err["message"] == "request body is not valid JSON"
    for raw in (b"[1]", b'"x"', b"7"):
        r = await api.client.post(f"/v1/cards/{card['id']}/redeem", content=raw, headers=json_headers)
        expect_error(r, 422, "validation_error", None)
    assert (await api.card(card["id"]))["balance"] == 100


# --- routes, health and docs --------------------------------------------------------------------


async def test_unknown_route_and_method_use_the_envelope(api: Api, app_client: httpx.AsyncClient) -> None:
    for path in ("/nowhere", "/v1", "/v2/cards", "/v1/cards/x/y/z"):
        err = expect_error(await app_client.get(path), 404, "not_found", None)
        assert err["type"] == "invalid_request_error"
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


# --- extreme and hostile inputs: still a 4xx naming the field -----------------------------------

MAX_AMOUNT = 2**53 - 1


async def test_amounts_beyond_the_supported_range_are_422(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 5000)
    peer = await api.new_card("EUR", 0)
    hold = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 100, "capture": False})
    red = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 100})
    for big in (MAX_AMOUNT + 1, 2**63, 10**20):
        cases: list[tuple[str, dict[str, Any]]] = [
            ("/v1/cards", {"currency": "EUR", "amount": big}),
            (f"/v1/cards/{peer['id']}/activate", {"amount": big}),
            (f"/v1/cards/{card['id']}/reload", {"amount": big}),
            (f"/v1/cards/{card['id']}/redeem", {"amount": big}),
            (f"/v1/cards/{card['id']}/redeem", {"amount": big, "capture": False}),
            (f"/v1/cards/{card['id']}/transfer", {"to_card": peer["id"], "amount": big}),
            (f"/v1/cards/{card['id']}/adjust", {"amount": big, "reason": "x"}),
            (f"/v1/cards/{card['id']}/adjust", {"amount": -big, "reason": "x"}),
            (f"/v1/transfers/{hold['id']}/capture", {"amount": big}),
            (f"/v1/transfers/{red['id']}/refund", {"amount": big}),
        ]
        for path, body in cases:
            expect_error(await api.call("POST", path, body), 422, "validation_error", "amount")
    # The largest supported amount works end to end.
    top = await api.new_card("JPY", MAX_AMOUNT)
    assert (top["balance"], top["initial_amount"]) == (MAX_AMOUNT, MAX_AMOUNT)
    m = await api.post(f"/v1/cards/{top['id']}/redeem", {"amount": MAX_AMOUNT})
    assert m["card"]["balance"] == 0
    assert (await api.card(card["id"]))["balance"] == 4900
    await assert_ledger_ok(rt)


async def test_hold_ttl_beyond_any_date_is_422(api: Api) -> None:
    card = await api.new_card("EUR", 5000)
    for ttl in (10**12, 2**63, 10**20):
        body = {"amount": 10, "capture": False, "hold_ttl_seconds": ttl}
        expect_error(
            await api.call("POST", f"/v1/cards/{card['id']}/redeem", body), 422, "validation_error", "hold_ttl_seconds"
        )
    assert (await api.card(card["id"]))["available"] == 5000


async def test_datetimes_must_carry_an_offset_and_fit_in_utc(api: Api) -> None:
    for params, param in (
        ({"created_gte": "2024-01-01T00:00:00"}, "created_gte"),
        ({"created_lte": "2024-01-01T00:00:00"}, "created_lte"),
        ({"created_gte": "0001-01-01T00:00:00+14:00"}, "created_gte"),
        ({"created_lte": "9999-12-31T23:59:59-10:00"}, "created_lte"),
    ):
        expect_error(await api.call("GET", "/v1/cards", params=params), 422, "validation_error", param)
    expect_error(
        await api.call("POST", "/v1/cards", {"currency": "EUR", "expires_at": "9999-12-31T23:59:59-10:00"}),
        422,
        "validation_error",
        "expires_at",
    )
    far = await api.new_card("EUR", 100, expires_at="9999-12-30T00:00:00+00:00")
    assert far["expires_at"] == "9999-12-30T00:00:00Z"
    assert [c["id"] for c in await api.list_all(created_gte="0001-01-02T00:00:00+00:00")] == [far["id"]]


def forge(*parts: Any) -> str:
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_forged_cursors_are_422(api: Api) -> None:
    card = await api.new_card("EUR", 100)
    iso = card["created_at"].replace("Z", "+00:00")
    bad_card_cursors = [
        ("-created_at", forge("-created_at", "nope", card["id"])),
        ("-created_at", forge("-created_at", 5, card["id"])),
        ("-created_at", forge("-created_at", None, card["id"])),
        ("-created_at", forge("-created_at", "2024-01-01T00:00:00", card["id"])),
        ("created_at", forge("created_at", "0001-01-01T00:00:00+14:00", card["id"])),
        ("-created_at", forge("-created_at", iso, "card_\x00")),
        ("-created_at", forge("-created_at", iso, card["id"], "extra")),
        ("balance", forge("balance", "5", card["id"])),
        ("balance", forge("balance", True, card["id"])),
        ("balance", forge("balance", 1.5, card["id"])),
        ("balance", forge("balance", 2**70, card["id"])),
        ("-balance", forge("-balance", 5, 5)),
    ]
    for sort, cursor in bad_card_cursors:
        r = await api.call("GET", "/v1/cards", params={"sort": sort, "cursor": cursor})
        expect_error(r, 422, "validation_error", "cursor")
    # A well-formed cursor of our own making is fine.
    ok = await api.get("/v1/cards", params={"sort": "balance", "cursor": forge("balance", 0, "card_0")})
    assert [c["id"] for c in ok["data"]] == [card["id"]]

    for cursor in (
        forge("-created_at", "nope", "trf_x"),
        forge("-created_at", 5, "trf_x"),
        forge("-created_at", "2024-01-01T00:00:00", "trf_x"),
        forge("-created_at", iso, "trf_\x00"),
    ):
        r = await api.call("GET", f"/v1/cards/{card['id']}/transfers", params={"cursor": cursor})
        expect_error(r, 422, "validation_error", "cursor")


async def test_nul_characters_are_422_naming_the_field(api: Api) -> None:
    card = await api.new_card("EUR", 1000)
    peer = await api.new_card("EUR", 0)
    c = card["id"]
    body_cases: list[tuple[str, dict[str, Any], str]] = [
        ("/v1/cards", {"currency": "EUR", "sender": {"name": "A\x00"}}, "sender.name"),
        ("/v1/cards", {"currency": "EUR", "recipient": {"email": "a\x00@b.co"}}, "recipient.email"),
        ("/v1/cards", {"currency": "EUR", "serial": "S\x001"}, "serial"),
        ("/v1/cards", {"currency": "EUR", "metadata": {"k": "v\x00"}}, "metadata"),
        ("/v1/cards", {"currency": "EUR", "metadata": {"k\x00": "v"}}, "metadata"),
        ("/v1/cards", {"currency": "EUR", "metadata": {"k": [{"deep": "\x00"}]}}, "metadata"),
        ("/v1/cards/lookup", {"code": "ABCD\x00EFGH"}, "code"),
        (f"/v1/cards/{c}/reload", {"amount": 1, "reference": "r\x00"}, "reference"),
        (f"/v1/cards/{c}/redeem", {"amount": 1, "reference": "r\x00"}, "reference"),
        (f"/v1/cards/{c}/adjust", {"amount": 1, "reason": "r\x00"}, "reason"),
        (f"/v1/cards/{c}/block", {"reason": "r\x00"}, "reason"),
        (f"/v1/cards/{c}/transfer", {"to_card": "card_\x00", "amount": 1}, "to_card"),
    ]
    for path, body, param in body_cases:
        expect_error(await api.call("POST", path, body), 422, "validation_error", param)
    for name in ("recipient_email", "sender_email", "currency", "code_suffix"):
        value = "EU\x00" if name == "currency" else "a\x00"
        expect_error(await api.call("GET", "/v1/cards", params={name: value}), 422, "validation_error", name)
    for method, path, param in (
        ("GET", "/v1/cards/card_%00", "card_id"),
        ("POST", "/v1/cards/card_%00/redeem", "card_id"),
        ("GET", "/v1/cards/card_%00/transfers", "card_id"),
        ("GET", "/v1/transfers/trf_%00", "transfer_id"),
        ("POST", "/v1/transfers/trf_%00/void", "transfer_id"),
    ):
        body = {"amount": 1} if path.endswith("redeem") else None
        expect_error(await api.call(method, path, body), 422, "validation_error", param)
    assert (await api.card(c))["balance"] == 1000
    assert (await api.card(peer["id"]))["balance"] == 0


async def test_metadata_must_be_plain_json(api: Api) -> None:
    json_headers = {**api.headers, "Content-Type": "application/json"}
    for raw in (b"NaN", b"Infinity", b"-Infinity", str(10**30).encode(), str(-(2**64)).encode(), b"1e300", b"-1e19"):
        body = b'{"currency": "EUR", "metadata": {"n": ' + raw + b"}}"
        r = await api.client.post("/v1/cards", content=body, headers=json_headers)
        expect_error(r, 422, "validation_error", "metadata")
    meta = {
        "max": 2**63 - 1,
        "min": -(2**63),
        "f": 1.5,
        "big": 1e18,
        "tiny": 1e-300,
        "s": "\u00e9\U0001f381",
        "none": None,
    }
    card = await api.new_card("EUR", 100, metadata=meta)
    assert (await api.card(card["id"]))["metadata"] == meta


async def test_missing_body_says_so(api: Api) -> None:
    card = await api.new_card("EUR", 100)
    for path in ("/v1/cards", f"/v1/cards/{card['id']}/redeem", "/v1/cards/lookup"):
        err = expect_error(await api.call("POST", path), 422, "validation_error", None)
        assert err["message"] == "request body is required"


async def test_metadata_nesting_is_bounded(api: Api) -> None:
    json_headers = {**api.headers, "Content-Type": "application/json"}

    def nested(levels: int) -> bytes:
        return b'{"currency": "EUR", "metadata": {"a": ' + b"[" * levels + b"]" * levels + b"}}"

    ok = await api.client.post("/v1/cards", content=nested(32), headers=json_headers)
    assert ok.status_code == 201, ok.text
    for levels in (33, 300):
        expect_error(
            await api.client.post("/v1/cards", content=nested(levels), headers=json_headers),
            422,
            "validation_error",
            "metadata",
        )
    # Nesting too deep even to parse is still an enveloped 4xx.
    r = await api.client.post("/v1/cards", content=nested(100_000), headers=json_headers)
    assert 400 <= r.status_code < 500
    assert set(r.json()["error"]) >= ENVELOPE_KEYS
    assert len(await api.list_all()) == 1
