"""Seed 004 (Giftcards B2B, Laravel Sanctum): every example request and response, replayed.

The expected bodies below are copied from the seed. Each test builds the state its example
implies (a EUR card with code 6064362450282800076 whose metadata carries the seed's brand name
and EAN) and compares the whole body and the status code.
"""

from __future__ import annotations

from typing import Any

from giftwell.domain.cards import CardAction
from giftwell.services.cards import lifecycle
from giftwell.services.cards import reads as cards
from giftwell.services.ledger import verify
from tests import factories

CODE = "6064362450282800076"
META = {"brand_name": "Example Brand", "ean": "1234567890123"}


def seed_card(balance: int) -> dict[str, Any]:
    """The seed's giftcard object; only the balance differs between its examples."""
    return {
        "code": "6064362450282800076",
        "status": "Normal",
        "brand_name": "Example Brand",
        "ean": "1234567890123",
        "currency": "EUR",
        "balance": balance,
        "balance_factor": 100,
        "activated": True,
        "blocked": False,
        "handled": True,
    }


RETRIEVE_200 = {
    "message": "Giftcard retrieved successfully",
    "giftcard": {
        "code": "6064362450282800076",
        "status": "Normal",
        "brand_name": "Example Brand",
        "ean": "1234567890123",
        "currency": "EUR",
        "balance": 50,
        "balance_factor": 100,
        "activated": True,
        "blocked": False,
        "handled": True,
    },
}
RETRIEVE_404 = {
    "message": "Giftcard not found",
    "giftcard": {
        "code": "6064362450282800076",
        "handled": False,
        "activated": False,
        "blocked": False,
        "status": None,
    },
}
BALANCE_200 = {
    "message": "Balance retrieved successfully",
    "giftcard": {
        "code": "6064362450282800076",
        "status": "Normal",
        "brand_name": "Example Brand",
        "ean": "1234567890123",
        "currency": "EUR",
        "balance": 50,
        "balance_factor": 100,
        "activated": True,
        "blocked": False,
        "handled": True,
    },
    "balance": {"amount": 50, "currency": "EUR"},
}
NOT_FOUND = {"message": "Giftcard not found"}
ACTIVATE_200 = {"message": "Giftcard activated successfully", "giftcard": seed_card(50)}
ACTIVATE_422_VALIDATION = {
    "message": "The given data was invalid.",
    "errors": {"amount": ["The amount field is required."]},
}
ACTIVATE_422_FAILED = {"message": "Activating giftcard failed"}
RELOAD_200 = {"message": "Giftcard reloaded successfully", "giftcard": seed_card(75)}
RELOAD_422 = {"message": "Reloading giftcard failed"}
REDEEM_200 = {"message": "Giftcard redeemed successfully", "giftcard": seed_card(40)}
REDEEM_422_INSUFFICIENT = {"message": "Insufficient balance", "balance": {"amount": 5, "currency": "EUR"}}
REDEEM_422_FAILED = {"message": "Redeeming giftcard failed"}
BLOCK_200 = {"message": "Giftcard blocked successfully"}
BLOCK_422 = {"message": "Blocking giftcard failed"}
UNBLOCK_200 = {"message": "Giftcard unblocked successfully"}
UNBLOCK_422 = {"message": "Unblocking giftcard failed"}
VALIDATION_422 = {
    "message": "The given data was invalid.",
    "errors": {"giftcard_code": ["The giftcard_code field is required."]},
}
UNAUTHENTICATED_401 = {"message": "Unauthenticated."}


async def ledger_ok(rt) -> None:
    async with rt.uow() as uow:
        report = await verify.verify(uow)
    assert report.ok, report.problems


async def issue(rt, account_id: str, amount: int | None = 5000):
    return await factories.card(rt, account_id, currency="EUR", amount=amount, code=CODE, metadata=META)


async def set_status(rt, t, card_id: str, action: CardAction) -> None:
    async with rt.uow() as uow:
        await lifecycle.change_status(uow, account_id=t.account_id, card_id=card_id, action=action)
        await uow.commit()


async def post(client, t, endpoint: str, body: dict[str, Any]):
    return await client.post(f"/api/giftcards/{endpoint}", json=body, headers=t.headers)


async def test_retrieve(rt, app_client):
    t = await factories.tenant(rt)
    await issue(rt, t.account_id)
    r = await post(app_client, t, "retrieve", {"giftcard_code": "6064362450282800076"})
    assert r.status_code == 200
    assert r.json() == RETRIEVE_200
    assert r.headers["content-type"] == "application/json"


async def test_retrieve_not_found(rt, app_client):
    t = await factories.tenant(rt)
    r = await post(app_client, t, "retrieve", {"giftcard_code": "6064362450282800076"})
    assert r.status_code == 404
    assert r.json() == RETRIEVE_404


async def test_balance(rt, app_client):
    t = await factories.tenant(rt)
    await issue(rt, t.account_id)
    r = await post(app_client, t, "balance", {"giftcard_code": "6064362450282800076"})
    assert r.status_code == 200
    assert r.json() == BALANCE_200


async def test_balance_not_found(rt, app_client):
    t = await factories.tenant(rt)
    r = await post(app_client, t, "balance", {"giftcard_code": "6064362450282800076"})
    assert r.status_code == 404
    assert r.json() == NOT_FOUND


async def test_activate_then_balance(rt, app_client):
    t = await factories.tenant(rt)
    await issue(rt, t.account_id, amount=None)
    r = await post(app_client, t, "activate", {"giftcard_code": "6064362450282800076", "amount": 50})
    assert r.status_code == 200
    assert r.json() == ACTIVATE_200
    r = await post(app_client, t, "balance", {"giftcard_code": CODE})
    assert r.json() == BALANCE_200
    await ledger_ok(rt)


async def test_activate_amount_required(rt, app_client):
    t = await factories.tenant(rt)
    await issue(rt, t.account_id, amount=None)
    r = await post(app_client, t, "activate", {"giftcard_code": "6064362450282800076"})
    assert r.status_code == 422
    assert r.json() == ACTIVATE_422_VALIDATION


async def test_activate_already_active_fails(rt, app_client):
    t = await factories.tenant(rt)
    await issue(rt, t.account_id)
    r = await post(app_client, t, "activate", {"giftcard_code": "6064362450282800076", "amount": 50})
    assert r.status_code == 422
    assert r.json() == ACTIVATE_422_FAILED
    r = await post(app_client, t, "balance", {"giftcard_code": CODE})
    assert r.json() == BALANCE_200
    await ledger_ok(rt)


async def test_reload(rt, app_client):
    t = await factories.tenant(rt)
    await issue(rt, t.account_id)
    r = await post(app_client, t, "reload", {"giftcard_code": "6064362450282800076", "amount": 25})
    assert r.status_code == 200
    assert r.json() == RELOAD_200
    await ledger_ok(rt)


async def test_reload_blocked_card_fails(rt, app_client):
    t = await factories.tenant(rt)
    c = await issue(rt, t.account_id)
    await set_status(rt, t, c.card.id, CardAction.BLOCK)
    r = await post(app_client, t, "reload", {"giftcard_code": "6064362450282800076", "amount": 25})
    assert r.status_code == 422
    assert r.json() == RELOAD_422
    await ledger_ok(rt)


async def test_redeem(rt, app_client):
    t = await factories.tenant(rt)
    await issue(rt, t.account_id)
    r = await post(app_client, t, "redeem", {"giftcard_code": "6064362450282800076", "amount": 10})
    assert r.status_code == 200
    assert r.json() == REDEEM_200
    await ledger_ok(rt)


async def test_redeem_insufficient_balance_shows_the_balance(rt, app_client):
    t = await factories.tenant(rt)
    await issue(rt, t.account_id, amount=500)
    r = await post(app_client, t, "redeem", {"giftcard_code": "6064362450282800076", "amount": 10})
    assert r.status_code == 422
    assert r.json() == REDEEM_422_INSUFFICIENT
    r = await post(app_client, t, "retrieve", {"giftcard_code": CODE})
    assert r.json()["giftcard"]["balance"] == 5
    await ledger_ok(rt)


async def test_redeem_blocked_card_fails(rt, app_client):
    t = await factories.tenant(rt)
    c = await issue(rt, t.account_id)
    await set_status(rt, t, c.card.id, CardAction.BLOCK)
    r = await post(app_client, t, "redeem", {"giftcard_code": "6064362450282800076", "amount": 10})
    assert r.status_code == 422
    assert r.json() == REDEEM_422_FAILED
    await ledger_ok(rt)


async def test_redeem_not_found(rt, app_client):
    t = await factories.tenant(rt)
    r = await post(app_client, t, "redeem", {"giftcard_code": "6064362450282800076", "amount": 10})
    assert r.status_code == 404
    assert r.json() == NOT_FOUND


async def test_block(rt, app_client):
    t = await factories.tenant(rt)
    await issue(rt, t.account_id)
    r = await post(app_client, t, "block", {"giftcard_code": "6064362450282800076", "reason": "Fraud suspicion"})
    assert r.status_code == 200
    assert r.json() == BLOCK_200
    r = await post(app_client, t, "retrieve", {"giftcard_code": CODE})
    assert r.json()["giftcard"] == {**seed_card(50), "status": "Blocked", "blocked": True}
    async with rt.uow() as uow:
        card = await cards.lookup(uow, account_id=t.account_id, code=CODE)
    assert card.status_reason == "Fraud suspicion"


async def test_block_already_blocked_fails(rt, app_client):
    t = await factories.tenant(rt)
    c = await issue(rt, t.account_id)
    await set_status(rt, t, c.card.id, CardAction.BLOCK)
    r = await post(app_client, t, "block", {"giftcard_code": "6064362450282800076", "reason": "Fraud suspicion"})
    assert r.status_code == 422
    assert r.json() == BLOCK_422


async def test_unblock(rt, app_client):
    t = await factories.tenant(rt)
    c = await issue(rt, t.account_id)
    await set_status(rt, t, c.card.id, CardAction.BLOCK)
    r = await post(app_client, t, "unblock", {"giftcard_code": "6064362450282800076", "reason": "Issue resolved"})
    assert r.status_code == 200
    assert r.json() == UNBLOCK_200
    r = await post(app_client, t, "retrieve", {"giftcard_code": CODE})
    assert r.json() == RETRIEVE_200


async def test_unblock_card_that_is_not_blocked_fails(rt, app_client):
    t = await factories.tenant(rt)
    await issue(rt, t.account_id)
    r = await post(app_client, t, "unblock", {"giftcard_code": "6064362450282800076", "reason": "Issue resolved"})
    assert r.status_code == 422
    assert r.json() == UNBLOCK_422


async def test_giftcard_code_required(rt, app_client):
    t = await factories.tenant(rt)
    for endpoint in ("retrieve", "balance", "block", "unblock"):
        r = await post(app_client, t, endpoint, {})
        assert r.status_code == 422, endpoint
        assert r.json() == VALIDATION_422, endpoint


async def test_unauthenticated(rt, app_client):
    t = await factories.tenant(rt)
    await issue(rt, t.account_id)
    body = {"giftcard_code": "6064362450282800076"}
    for headers in ({}, {"Authorization": "Bearer gw_not-a-real-token"}, {"Authorization": f"Basic {t.token}"}):
        r = await app_client.post("/api/giftcards/retrieve", json=body, headers=headers)
        assert r.status_code == 401
        assert r.json() == UNAUTHENTICATED_401


async def test_the_seed_sequence(rt, app_client):
    """activate 50 -> balance 50; reload 25 -> 75; redeem 10 -> 65; block; unblock."""
    t = await factories.tenant(rt)
    await issue(rt, t.account_id, amount=None)
    steps: list[tuple[str, dict[str, Any], int | None]] = [
        ("activate", {"amount": 50}, 50),
        ("balance", {}, 50),
        ("reload", {"amount": 25}, 75),
        ("redeem", {"amount": 10}, 65),
        ("block", {"reason": "Fraud suspicion"}, None),
        ("unblock", {"reason": "Issue resolved"}, None),
        ("retrieve", {}, 65),
    ]
    for endpoint, extra, balance in steps:
        r = await post(app_client, t, endpoint, {"giftcard_code": CODE, **extra})
        assert r.status_code == 200, (endpoint, r.text)
        if balance is not None:
            assert r.json()["giftcard"] == seed_card(balance), endpoint
    await ledger_ok(rt)
