"""Holds (redeem with capture=false): capture in full or in part, void, expiry by TTL and the
sweeper; refunds of redemptions, never more than was redeemed and not yet refunded."""

from __future__ import annotations

from datetime import timedelta

from giftwell.services.runtime import Runtime
from giftwell.services.sweep import sweep_once
from tests.conftest import FakeClock
from tests.functional.support import (
    Api,
    assert_ledger_ok,
    at,
    money,
    summary,
)

# --- holds --------------------------------------------------------------------------------------


async def test_hold_reserves_then_full_capture_posts(api: Api, rt: Runtime, clock: FakeClock) -> None:
    card = await api.new_card("EUR", 5000)
    hold = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 2000, "capture": False, "reference": "cart-9"})
    assert (hold["kind"], hold["status"], hold["amount"], hold["hold_amount"]) == ("redeem", "pending", 2000, 2000)
    assert hold["balance_after"] == 5000  # nothing posted yet
    assert hold["reference"] == "cart-9"
    assert at(hold["expires_at"]) == clock.now + timedelta(days=7)  # the default hold TTL
    assert (hold["card"]["balance"], hold["card"]["available"]) == (5000, 3000)
    assert await money(api, card["id"]) == (5000, 3000)

    # The hold counts against what can be redeemed.
    await api.error(
        "POST",
        f"/v1/cards/{card['id']}/redeem",
        {"amount": 3001},
        status=422,
        code="insufficient_funds",
        param="amount",
    )
    await api.error(
        "POST",
        f"/v1/cards/{card['id']}/redeem",
        {"amount": 3001, "capture": False},
        status=422,
        code="insufficient_funds",
        param="amount",
    )

    cap = await api.post(f"/v1/transfers/{hold['id']}/capture")
    assert cap["id"] == hold["id"]
    assert (cap["kind"], cap["status"], cap["amount"], cap["balance_after"]) == ("redeem", "posted", 2000, 3000)
    assert (cap["card"]["balance"], cap["card"]["available"]) == (3000, 3000)
    assert (await api.get(f"/v1/transfers/{hold['id']}"))["status"] == "posted"

    await api.error("POST", f"/v1/transfers/{hold['id']}/capture", status=409, code="invalid_state", param="transfer")
    await api.error("POST", f"/v1/transfers/{hold['id']}/void", status=409, code="invalid_state", param="transfer")
    assert await money(api, card["id"]) == (3000, 3000)
    assert summary(await api.transfers(card["id"])) == [
        ("redeem", "posted", 2000, 3000),
        ("activate", "posted", 5000, 5000),
    ]
    await assert_ledger_ok(rt)


async def test_partial_capture_releases_the_rest(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 5000)
    hold = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 2000, "capture": False})
    for bad, code in ((2001, "validation_error"), (0, "validation_error"), (-1, "validation_error")):
        await api.error(
            "POST", f"/v1/transfers/{hold['id']}/capture", {"amount": bad}, status=422, code=code, param="amount"
        )
    assert await money(api, card["id"]) == (5000, 3000)

    cap = await api.post(f"/v1/transfers/{hold['id']}/capture", {"amount": 1200})
    assert (cap["status"], cap["amount"], cap["hold_amount"], cap["balance_after"]) == ("posted", 1200, 2000, 3800)
    assert (cap["card"]["balance"], cap["card"]["available"]) == (3800, 3800)
    assert await money(api, card["id"]) == (3800, 3800)
    await assert_ledger_ok(rt)


async def test_void_releases_a_hold(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 5000)
    hold = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 2000, "capture": False})
    v = await api.post(f"/v1/transfers/{hold['id']}/void")
    assert (v["id"], v["kind"], v["status"], v["amount"]) == (hold["id"], "redeem", "voided", 2000)
    assert (v["card"]["balance"], v["card"]["available"]) == (5000, 5000)
    assert await money(api, card["id"]) == (5000, 5000)
    await api.error("POST", f"/v1/transfers/{hold['id']}/void", status=409, code="invalid_state", param="transfer")
    await api.error("POST", f"/v1/transfers/{hold['id']}/capture", status=409, code="invalid_state", param="transfer")
    await api.error("POST", f"/v1/transfers/{hold['id']}/refund", status=422, code="validation_error", param="transfer")
    assert summary(await api.transfers(card["id"])) == [
        ("redeem", "voided", 2000, 5000),
        ("activate", "posted", 5000, 5000),
    ]
    await assert_ledger_ok(rt)


async def test_expired_hold_cannot_be_captured_and_the_sweeper_voids_it(
    api: Api, rt: Runtime, clock: FakeClock
) -> None:
    card = await api.new_card("EUR", 5000)
    default = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 1000, "capture": False})
    short = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 500, "capture": False, "hold_ttl_seconds": 60})
    longer = await api.post(
        f"/v1/cards/{card['id']}/redeem", {"amount": 700, "capture": False, "hold_ttl_seconds": 120}
    )
    assert at(short["expires_at"]) == clock.now + timedelta(seconds=60)
    assert await money(api, card["id"]) == (5000, 2800)

    clock.advance(seconds=61)
    await api.error("POST", f"/v1/transfers/{short['id']}/capture", status=409, code="invalid_state", param="transfer")
    cap = await api.post(f"/v1/transfers/{longer['id']}/capture", {"amount": 700})
    # The lapsed 500 hold still reserves until the sweeper voids it.
    assert (cap["status"], cap["card"]["balance"], cap["card"]["available"]) == ("posted", 4300, 2800)

    clock.advance(days=8)  # past the default TTL (7 days)
    await api.error(
        "POST", f"/v1/transfers/{default['id']}/capture", status=409, code="invalid_state", param="transfer"
    )
    # Until the sweeper runs, the expired holds still reserve their amount.
    assert await money(api, card["id"]) == (4300, 2800)

    result = await sweep_once(rt)
    assert (result.holds_expired, result.cards_expired) == (2, 0)
    for hold in (default, short):
        t = await api.get(f"/v1/transfers/{hold['id']}")
        assert t["status"] == "voided"
        await api.error(
            "POST", f"/v1/transfers/{hold['id']}/capture", status=409, code="invalid_state", param="transfer"
        )
    assert await money(api, card["id"]) == (4300, 4300)
    assert (await sweep_once(rt)).holds_expired == 0
    await assert_ledger_ok(rt)


async def test_hold_ttl_may_not_exceed_30_days(api: Api) -> None:
    card = await api.new_card("EUR", 5000)
    for ttl in (30 * 86400 + 1, 0, -1, 10**20):
        await api.error(
            "POST",
            f"/v1/cards/{card['id']}/redeem",
            {"amount": 10, "capture": False, "hold_ttl_seconds": ttl},
            status=422,
            code="validation_error",
            param="hold_ttl_seconds",
        )
    ok = await api.post(
        f"/v1/cards/{card['id']}/redeem", {"amount": 10, "capture": False, "hold_ttl_seconds": 30 * 86400}
    )
    assert ok["status"] == "pending"


# --- refunds ------------------------------------------------------------------------------------


async def test_refund_partial_then_rest_never_more(api: Api, rt: Runtime, clock: FakeClock) -> None:
    card = await api.new_card("EUR", 5000)
    red = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 3000, "reference": "order-5"})
    clock.advance(seconds=1)

    r1 = await api.post(f"/v1/transfers/{red['id']}/refund", {"amount": 1000})
    assert r1["id"] != red["id"]
    assert (r1["kind"], r1["status"], r1["amount"], r1["balance_after"]) == ("refund", "posted", 1000, 3000)
    assert (r1["refund_of"], r1["reference"], r1["direction"]) == (red["id"], "order-5", "credit")
    assert (r1["card"]["balance"], r1["card"]["available"]) == (3000, 3000)
    assert (await api.get(f"/v1/transfers/{red['id']}"))["refunded_amount"] == 1000

    await api.error(
        "POST",
        f"/v1/transfers/{red['id']}/refund",
        {"amount": 2001},
        status=422,
        code="validation_error",
        param="amount",
    )
    for bad in (0, -1):
        await api.error(
            "POST",
            f"/v1/transfers/{red['id']}/refund",
            {"amount": bad},
            status=422,
            code="validation_error",
            param="amount",
        )
    clock.advance(seconds=1)
    r2 = await api.post(f"/v1/transfers/{red['id']}/refund")  # no amount: all that is left
    assert (r2["amount"], r2["balance_after"], r2["card"]["balance"]) == (2000, 5000, 5000)
    assert (await api.get(f"/v1/transfers/{red['id']}"))["refunded_amount"] == 3000
    await api.error(
        "POST", f"/v1/transfers/{red['id']}/refund", {"amount": 1}, status=422, code="validation_error", param="amount"
    )
    await api.error("POST", f"/v1/transfers/{red['id']}/refund", status=422, code="validation_error", param="amount")

    # Only a posted redemption can be refunded: not a refund, not an activation.
    await api.error("POST", f"/v1/transfers/{r1['id']}/refund", status=422, code="validation_error", param="transfer")
    activation = (await api.transfers(card["id"]))[-1]
    assert activation["kind"] == "activate"
    await api.error(
        "POST", f"/v1/transfers/{activation['id']}/refund", status=422, code="validation_error", param="transfer"
    )
    assert summary(await api.transfers(card["id"])) == [
        ("refund", "posted", 2000, 5000),
        ("refund", "posted", 1000, 3000),
        ("redeem", "posted", 3000, 2000),
        ("activate", "posted", 5000, 5000),
    ]
    await assert_ledger_ok(rt)


async def test_refund_of_a_captured_hold_is_capped_at_the_captured_amount(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 5000)
    hold = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 2000, "capture": False})
    await api.error("POST", f"/v1/transfers/{hold['id']}/refund", status=422, code="validation_error", param="transfer")
    await api.post(f"/v1/transfers/{hold['id']}/capture", {"amount": 500})
    await api.error(
        "POST",
        f"/v1/transfers/{hold['id']}/refund",
        {"amount": 501},
        status=422,
        code="validation_error",
        param="amount",
    )
    r = await api.post(f"/v1/transfers/{hold['id']}/refund")
    assert (r["amount"], r["card"]["balance"], r["card"]["available"]) == (500, 5000, 5000)
    await assert_ledger_ok(rt)


async def test_refund_depends_on_the_card_state(api: Api, rt: Runtime) -> None:
    blocked = await api.new_card("EUR", 5000)
    red = await api.post(f"/v1/cards/{blocked['id']}/redeem", {"amount": 1000})
    await api.post(f"/v1/cards/{blocked['id']}/block")
    r = await api.post(f"/v1/transfers/{red['id']}/refund", {"amount": 400})  # a blocked card still takes value back
    assert (r["card"]["status"], r["card"]["balance"]) == ("blocked", 4400)

    disabled = await api.new_card("EUR", 5000)
    red2 = await api.post(f"/v1/cards/{disabled['id']}/redeem", {"amount": 1000})
    await api.post(f"/v1/cards/{disabled['id']}/disable")
    await api.error("POST", f"/v1/transfers/{red2['id']}/refund", status=422, code="card_disabled", param="card")
    assert (await api.get(f"/v1/transfers/{red2['id']}"))["refunded_amount"] == 0
    assert await money(api, disabled["id"]) == (4000, 4000)
    await assert_ledger_ok(rt)
