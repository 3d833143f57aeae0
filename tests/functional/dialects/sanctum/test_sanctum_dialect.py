"""The Sanctum dialect beyond the seed's examples: exact decimals, currencies, codes, tenants,
field rules, scopes, card states, and failures that must not leak."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from giftwell.domain.cards import CardAction
from giftwell.services.cards import expiry, history, lifecycle
from giftwell.services.ledger import verify
from tests import factories

CODE = "6064362450282800076"
META = {"brand_name": "Example Brand", "ean": "1234567890123"}
INVALID = "The given data was invalid."


async def ledger_ok(rt) -> None:
    async with rt.uow() as uow:
        report = await verify.verify(uow)
    assert report.ok, report.problems


async def transfer_count(rt, t, card_id: str) -> int:
    async with rt.uow() as uow:
        page = await history.list_transfers(uow, account_id=t.account_id, card_id=card_id, limit=100)
    return len(page.data)


async def post(client, t, endpoint: str, body: dict[str, Any]):
    return await client.post(f"/api/giftcards/{endpoint}", json=body, headers=t.headers)


async def balance(client, t, code: str = CODE) -> Any:
    r = await post(client, t, "balance", {"giftcard_code": code})
    assert r.status_code == 200, r.text
    return r.json()["balance"]["amount"]


# --- amounts: exact decimals in major units ---------------------------------------------------


async def test_redeem_decimal_amount(rt, app_client):
    t = await factories.tenant(rt)
    await factories.card(rt, t.account_id, amount=5000, code=CODE, metadata=META)
    r = await post(app_client, t, "redeem", {"giftcard_code": CODE, "amount": 10.25})
    assert r.status_code == 200, r.text
    assert r.json()["giftcard"]["balance"] == 39.75
    assert b'"balance":39.75,' in r.content
    await ledger_ok(rt)


async def test_amount_read_as_decimal_not_float(rt, app_client):
    """0.29 as a float is 0.28999999999999998; read as a float it would become 28 cents."""
    t = await factories.tenant(rt)
    await factories.card(rt, t.account_id, amount=5000, code=CODE)
    body = b'{"giftcard_code": "6064362450282800076", "amount": 0.29}'
    r = await app_client.post(
        "/api/giftcards/redeem", content=body, headers={**t.headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text
    assert b'"balance":49.71,' in r.content
    await ledger_ok(rt)


async def test_too_many_decimals_is_refused_and_nothing_moves(rt, app_client):
    t = await factories.tenant(rt)
    c = await factories.card(rt, t.account_id, amount=5000, code=CODE)
    before = await transfer_count(rt, t, c.card.id)
    for endpoint in ("redeem", "reload"):
        r = await post(app_client, t, endpoint, {"giftcard_code": CODE, "amount": 10.255})
        assert r.status_code == 422
        assert r.json() == {
            "message": INVALID,
            "errors": {"amount": ["The amount must have at most 2 decimal places."]},
        }
    assert await balance(app_client, t) == 50
    assert await transfer_count(rt, t, c.card.id) == before
    await ledger_ok(rt)


async def test_trailing_zeros_are_not_extra_decimals(rt, app_client):
    t = await factories.tenant(rt)
    await factories.card(rt, t.account_id, amount=5000, code=CODE)
    r = await post(app_client, t, "redeem", {"giftcard_code": CODE, "amount": "10.2500"})
    assert r.status_code == 200, r.text
    assert r.json()["giftcard"]["balance"] == 39.75


@pytest.mark.parametrize(("amount", "left"), [("10.50", 39.5), ("10", 40), (" 1e1 ", 40), (".5", 49.5)])
async def test_numeric_strings_are_amounts(rt, app_client, amount, left):
    t = await factories.tenant(rt)
    await factories.card(rt, t.account_id, amount=5000, code=CODE)
    r = await post(app_client, t, "redeem", {"giftcard_code": CODE, "amount": amount})
    assert r.status_code == 200, r.text
    assert r.json()["giftcard"]["balance"] == left
    await ledger_ok(rt)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (None, "The amount field is required."),
        ("", "The amount field is required."),
        ("   ", "The amount field is required."),
        ([], "The amount field is required."),
        ("abc", "The amount must be a number."),
        ("1_000", "The amount must be a number."),
        ("NaN", "The amount must be a number."),
        ("Infinity", "The amount must be a number."),
        (True, "The amount must be a number."),
        ({"value": 10}, "The amount must be a number."),
        (0, "The amount must be greater than 0."),
        (-5, "The amount must be greater than 0."),
        ("-0.01", "The amount must be greater than 0."),
        (1e20, "The amount must not be greater than 90071992547409.91."),
        ("1e999999999", "The amount must not be greater than 90071992547409.91."),
    ],
)
async def test_amount_rules(rt, app_client, amount, message):
    t = await factories.tenant(rt)
    await factories.card(rt, t.account_id, amount=5000, code=CODE)
    r = await post(app_client, t, "redeem", {"giftcard_code": CODE, "amount": amount})
    assert r.status_code == 422
    assert r.json() == {"message": INVALID, "errors": {"amount": [message]}}
    assert await balance(app_client, t) == 50


async def test_jpy_card_has_factor_one_and_whole_amounts(rt, app_client):
    t = await factories.tenant(rt)
    await factories.card(rt, t.account_id, currency="JPY", amount=5000, code=CODE)
    r = await post(app_client, t, "redeem", {"giftcard_code": CODE, "amount": 1200})
    assert r.status_code == 200, r.text
    g = r.json()["giftcard"]
    assert (g["currency"], g["balance"], g["balance_factor"]) == ("JPY", 3800, 1)
    r = await post(app_client, t, "redeem", {"giftcard_code": CODE, "amount": 1.5})
    assert r.status_code == 422
    assert r.json() == {"message": INVALID, "errors": {"amount": ["The amount must be an integer."]}}
    await ledger_ok(rt)


async def test_kwd_card_has_three_decimals(rt, app_client):
    t = await factories.tenant(rt)
    await factories.card(rt, t.account_id, currency="KWD", amount=10000, code=CODE)
    r = await post(app_client, t, "redeem", {"giftcard_code": CODE, "amount": "1.234"})
    assert r.status_code == 200, r.text
    assert r.json()["giftcard"]["balance_factor"] == 1000
    assert b'"balance":8.766,' in r.content
    r = await post(app_client, t, "redeem", {"giftcard_code": CODE, "amount": "1.2345"})
    assert r.json()["errors"] == {"amount": ["The amount must have at most 3 decimal places."]}
    await ledger_ok(rt)


async def test_balance_is_what_can_be_spent(rt, app_client):
    """A hold placed through the native API is not spendable, so it is not in the balance."""
    t = await factories.tenant(rt)
    c = await factories.card(rt, t.account_id, amount=5000, code=CODE)
    r = await app_client.post(
        f"/v1/cards/{c.card.id}/redeem", json={"amount": 1000, "capture": False}, headers=t.headers
    )
    assert r.status_code == 200, r.text
    assert await balance(app_client, t) == 40
    r = await post(app_client, t, "redeem", {"giftcard_code": CODE, "amount": 45})
    assert r.json() == {"message": "Insufficient balance", "balance": {"amount": 40, "currency": "EUR"}}
    await ledger_ok(rt)


# --- codes and tenants -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent", ["abcd-efgh-2345-6789", "ABCD EFGH 2345 6789", "abcdefgh23456789", " ABCD-EFGH-2345-6789 "]
)
async def test_code_is_normalised_and_echoed_as_sent(rt, app_client, sent):
    t = await factories.tenant(rt)
    await factories.card(rt, t.account_id, amount=5000, code="ABCD-EFGH-2345-6789")
    r = await post(app_client, t, "retrieve", {"giftcard_code": sent})
    assert r.status_code == 200, r.text
    assert r.json()["giftcard"]["code"] == sent.strip()


async def test_another_accounts_card_is_unknown(rt, app_client):
    owner = await factories.tenant(rt)
    other = await factories.tenant(rt)
    await factories.card(rt, owner.account_id, amount=5000, code=CODE)
    r = await post(app_client, other, "retrieve", {"giftcard_code": CODE})
    assert r.status_code == 404
    assert r.json()["giftcard"] == {
        "code": CODE,
        "handled": False,
        "activated": False,
        "blocked": False,
        "status": None,
    }
    for endpoint, extra in [("balance", {}), ("redeem", {"amount": 10}), ("reload", {"amount": 10}), ("block", {})]:
        r = await post(app_client, other, endpoint, {"giftcard_code": CODE, **extra})
        assert (r.status_code, r.json()) == (404, {"message": "Giftcard not found"}), endpoint
    assert await balance(app_client, owner) == 50
    await ledger_ok(rt)


async def test_brand_name_falls_back_to_the_account_name(rt, app_client):
    t = await factories.tenant(rt, name="Corner Books")
    await factories.card(rt, t.account_id, amount=1050, code=CODE)
    r = await post(app_client, t, "retrieve", {"giftcard_code": CODE})
    g = r.json()["giftcard"]
    assert (g["brand_name"], g["ean"], g["balance"]) == ("Corner Books", None, 10.5)


# --- card states --------------------------------------------------------------------------------


async def test_states_as_the_vendor_names_them(rt, app_client, clock):
    t = await factories.tenant(rt)
    await factories.card(rt, t.account_id, amount=None, code="INACTIVE-0001")
    disabled = await factories.card(rt, t.account_id, amount=100, code="DISABLED-0001")
    await factories.card(rt, t.account_id, amount=100, code="EXPIRED-00001", expires_at=clock.now + timedelta(days=1))
    async with rt.uow() as uow:
        await lifecycle.change_status(uow, account_id=t.account_id, card_id=disabled.card.id, action=CardAction.DISABLE)
        await uow.commit()
    clock.advance(days=2)
    async with rt.uow() as uow:
        assert await expiry.expire_due(uow) == 1
        await uow.commit()
    expected = {
        "INACTIVE-0001": ("Inactive", False, 0),
        "DISABLED-0001": ("Disabled", True, 1),
        "EXPIRED-00001": ("Expired", True, 0),
    }
    for code, (status, activated, left) in expected.items():
        r = await post(app_client, t, "retrieve", {"giftcard_code": code})
        g = r.json()["giftcard"]
        assert (g["status"], g["activated"], g["blocked"], g["balance"]) == (status, activated, False, left), code
        r = await post(app_client, t, "redeem", {"giftcard_code": code, "amount": 1})
        assert (r.status_code, r.json()) == (422, {"message": "Redeeming giftcard failed"}), code
        r = await post(app_client, t, "block", {"giftcard_code": code})
        expected_block = (200, {"message": "Giftcard blocked successfully"})
        if code != "INACTIVE-0001":
            expected_block = (422, {"message": "Blocking giftcard failed"})
        assert (r.status_code, r.json()) == expected_block, code
    await ledger_ok(rt)


async def test_activate_disabled_card_fails(rt, app_client):
    t = await factories.tenant(rt)
    c = await factories.card(rt, t.account_id, amount=None, code=CODE)
    async with rt.uow() as uow:
        await lifecycle.change_status(uow, account_id=t.account_id, card_id=c.card.id, action=CardAction.DISABLE)
        await uow.commit()
    r = await post(app_client, t, "activate", {"giftcard_code": CODE, "amount": 50})
    assert (r.status_code, r.json()) == (422, {"message": "Activating giftcard failed"})
    await ledger_ok(rt)


async def test_a_card_past_its_expiry_reads_as_expired_before_any_sweep(rt, app_client, clock):
    t = await factories.tenant(rt)
    c = await factories.card(rt, t.account_id, amount=5000, code=CODE, expires_at=clock.now + timedelta(hours=1))
    clock.advance(hours=1)
    r = await post(app_client, t, "retrieve", {"giftcard_code": CODE})
    assert r.status_code == 200, r.text
    got = r.json()["giftcard"]
    assert (got["status"], got["balance"], got["activated"]) == ("Expired", 0, True)
    # Committed, though retrieve writes nothing itself: the breakage transfer is there.
    assert await transfer_count(rt, t, c.card.id) == 2
    r = await post(app_client, t, "redeem", {"giftcard_code": CODE, "amount": 1})
    assert (r.status_code, r.json()) == (422, {"message": "Redeeming giftcard failed"})
    await ledger_ok(rt)
