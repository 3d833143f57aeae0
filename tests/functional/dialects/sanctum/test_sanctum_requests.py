"""How the Sanctum dialect reads requests (Laravel's way) and guards them: bodies, field rules,
scopes, routes, and unexpected failures that must answer 500 without leaking the code."""

from __future__ import annotations

import logging

import pytest

from giftwell.services.cards import money as card_money
from tests import factories

CODE = "6064362450282800076"
INVALID = "The given data was invalid."


async def test_unreadable_body_is_no_input(rt, app_client):
    t = await factories.tenant(rt)
    for content in (b"{not json", b"", b"[1, 2]", b'"6064362450282800076"', b'{"amount": NaN}', b"\xff\xfe\x00"):
        r = await app_client.post(
            "/api/giftcards/redeem", content=content, headers={**t.headers, "Content-Type": "application/json"}
        )
        assert r.status_code == 422, content
        assert r.json() == {
            "message": INVALID,
            "errors": {
                "giftcard_code": ["The giftcard_code field is required."],
                "amount": ["The amount field is required."],
            },
        }, content


async def test_form_body_is_read_like_laravel(rt, app_client):
    t = await factories.tenant(rt)
    await factories.card(rt, t.account_id, amount=5000, code=CODE)
    r = await app_client.post(
        "/api/giftcards/redeem", data={"giftcard_code": CODE, "amount": "12.5"}, headers=t.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["giftcard"]["balance"] == 37.5


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"giftcard_code": 6064362450282800076}, {"giftcard_code": ["The giftcard_code must be a string."]}),
        ({"giftcard_code": ""}, {"giftcard_code": ["The giftcard_code field is required."]}),
        ({"giftcard_code": None}, {"giftcard_code": ["The giftcard_code field is required."]}),
        (
            {"giftcard_code": "9" * 256},
            {"giftcard_code": ["The giftcard_code must not be greater than 255 characters."]},
        ),
        ({"giftcard_code": CODE, "reason": 5}, {"reason": ["The reason must be a string."]}),
        (
            {"giftcard_code": CODE, "reason": "x" * 256},
            {"reason": ["The reason must not be greater than 255 characters."]},
        ),
    ],
)
async def test_field_rules(rt, app_client, body, errors):
    t = await factories.tenant(rt)
    await factories.card(rt, t.account_id, amount=5000, code=CODE)
    r = await app_client.post("/api/giftcards/block", json=body, headers=t.headers)
    assert r.status_code == 422
    assert r.json() == {"message": INVALID, "errors": errors}


async def test_every_failing_field_is_reported_at_once(rt, app_client):
    t = await factories.tenant(rt)
    r = await app_client.post("/api/giftcards/reload", json={"amount": "ten"}, headers=t.headers)
    assert r.json() == {
        "message": INVALID,
        "errors": {
            "giftcard_code": ["The giftcard_code field is required."],
            "amount": ["The amount must be a number."],
        },
    }


async def test_unknown_code_with_bad_characters_is_not_found(rt, app_client):
    t = await factories.tenant(rt)
    r = await app_client.post("/api/giftcards/balance", json={"giftcard_code": "<script>"}, headers=t.headers)
    assert (r.status_code, r.json()) == (404, {"message": "Giftcard not found"})


@pytest.mark.parametrize(
    ("endpoint", "scope", "allowed"),
    [
        ("retrieve", "cards:read", True),
        ("balance", "cards:read", True),
        ("activate", "cards:read", False),
        ("redeem", "cards:write", False),
        ("reload", "cards:redeem", False),
        ("block", "cards:redeem", False),
        ("unblock", "cards:read", False),
        ("redeem", "cards:redeem", True),
        ("retrieve", "cards:write", False),
    ],
)
async def test_scopes(rt, app_client, endpoint, scope, allowed):
    t = await factories.tenant(rt, scopes=[scope])
    r = await app_client.post(f"/api/giftcards/{endpoint}", json={}, headers=t.headers)
    if allowed:
        assert r.status_code == 422  # past the scope check, stopped by the field rules
    else:
        assert (r.status_code, r.json()) == (403, {"message": "This action is unauthorized."})


async def test_authentication_comes_before_the_body(rt, app_client):
    r = await app_client.post("/api/giftcards/redeem", content=b"{broken")
    assert (r.status_code, r.json()) == (401, {"message": "Unauthenticated."})


async def test_unknown_route_and_method(rt, app_client):
    t = await factories.tenant(rt)
    r = await app_client.post("/api/giftcards/transfer", json={}, headers=t.headers)
    assert (r.status_code, r.json()) == (404, {"message": "Not Found"})
    r = await app_client.get("/api/giftcards/retrieve", headers=t.headers)
    assert r.status_code == 405
    assert r.json() == {"message": "The GET method is not supported for this route. Supported methods: POST."}


async def test_unexpected_failure_is_a_bare_500_and_the_code_is_not_logged(rt, app_client, monkeypatch, caplog):
    t = await factories.tenant(rt)
    await factories.card(rt, t.account_id, amount=5000, code=CODE)

    async def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(card_money, "redeem", broken)
    with caplog.at_level(logging.DEBUG):
        r = await app_client.post(
            "/api/giftcards/redeem",
            json={"giftcard_code": CODE, "amount": 10},
            headers={**t.headers, "X-Request-Id": "req-sanctum-500"},
        )
    assert (r.status_code, r.json()) == (500, {"message": "Server error"})
    assert "req-sanctum-500" in caplog.text
    assert "database went away" in caplog.text
    assert CODE not in caplog.text
    assert t.token not in caplog.text
