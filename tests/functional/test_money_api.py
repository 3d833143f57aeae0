"""Money on cards through the API: activate, reload, redeem, holds (capture, void, expiry),
refunds, card-to-card transfers, adjustments, card states, and the sweeper."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from giftwell.jobs.sweeper import sweep_once
from giftwell.services.runtime import Runtime
from tests.conftest import FakeClock
from tests.functional.support import Api, assert_ledger_ok, expect_error

TRANSFER_FIELDS = {"id", "kind", "status", "amount", "currency", "balance_after", "reference", "created_at"}


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def summary(transfers: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(t["kind"], t["status"], t["amount"], t["balance_after"]) for t in transfers]


async def money(api: Api, card_id: str) -> tuple[int, int]:
    card = await api.card(card_id)
    return card["balance"], card["available"]


# --- activate, reload, redeem -------------------------------------------------------------------


async def test_activate_gives_an_inactive_card_its_value(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", None)
    m = await api.post(f"/v1/cards/{card['id']}/activate", {"amount": 2500})
    assert set(m) >= TRANSFER_FIELDS
    assert m["id"].startswith("trf_")
    assert (m["kind"], m["status"], m["amount"], m["currency"], m["balance_after"]) == (
        "activate",
        "posted",
        2500,
        "EUR",
        2500,
    )
    assert m["direction"] == "credit"
    assert m["card"]["status"] == "active"
    assert (m["card"]["balance"], m["card"]["available"], m["card"]["initial_amount"]) == (2500, 2500, 2500)
    got = await api.card(card["id"])
    assert (got["status"], got["balance"], got["initial_amount"]) == ("active", 2500, 2500)
    assert got["activated_at"] is not None

    await api.error(
        "POST", f"/v1/cards/{card['id']}/activate", {"amount": 100}, status=409, code="invalid_state", param="card"
    )
    fresh = await api.new_card("EUR", None)
    for bad in (0, -5):
        await api.error(
            "POST",
            f"/v1/cards/{fresh['id']}/activate",
            {"amount": bad},
            status=422,
            code="validation_error",
            param="amount",
        )
    assert (await api.card(fresh["id"]))["status"] == "inactive"
    assert summary(await api.transfers(card["id"])) == [("activate", "posted", 2500, 2500)]
    await assert_ledger_ok(rt)


async def test_reload_adds_value(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 5000)
    m = await api.post(f"/v1/cards/{card['id']}/reload", {"amount": 1000, "reference": "top-up 7"})
    assert (m["kind"], m["status"], m["amount"], m["balance_after"], m["reference"]) == (
        "reload",
        "posted",
        1000,
        6000,
        "top-up 7",
    )
    assert (m["card"]["balance"], m["card"]["available"]) == (6000, 6000)
    assert await money(api, card["id"]) == (6000, 6000)
    for bad in (0, -1):
        await api.error(
            "POST",
            f"/v1/cards/{card['id']}/reload",
            {"amount": bad},
            status=422,
            code="validation_error",
            param="amount",
        )
    inactive = await api.new_card("EUR", None)
    await api.error(
        "POST", f"/v1/cards/{inactive['id']}/reload", {"amount": 100}, status=422, code="card_inactive", param="card"
    )
    assert summary(await api.transfers(card["id"])) == [
        ("reload", "posted", 1000, 6000),
        ("activate", "posted", 5000, 5000),
    ]
    await assert_ledger_ok(rt)


async def test_redeem_takes_value_and_refuses_more_than_available(api: Api, rt: Runtime, clock: FakeClock) -> None:
    card = await api.new_card("EUR", 5000)
    m = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 1250, "reference": "order-1"})
    assert (m["kind"], m["status"], m["amount"], m["currency"]) == ("redeem", "posted", 1250, "EUR")
    assert (m["balance_after"], m["reference"], m["direction"]) == (3750, "order-1", "debit")
    assert (m["card"]["balance"], m["card"]["available"]) == (3750, 3750)

    err = await api.error(
        "POST",
        f"/v1/cards/{card['id']}/redeem",
        {"amount": 3751},
        status=422,
        code="insufficient_funds",
        param="amount",
    )
    assert err["type"] == "card_error"
    assert (err["available"], err["balance"], err["currency"]) == (3750, 3750, "EUR")
    clock.advance(seconds=1)
    m = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 3750})
    assert (m["balance_after"], m["card"]["balance"], m["card"]["available"]) == (0, 0, 0)
    await api.error(
        "POST", f"/v1/cards/{card['id']}/redeem", {"amount": 1}, status=422, code="insufficient_funds", param="amount"
    )
    for bad in (0, -100):
        await api.error(
            "POST",
            f"/v1/cards/{card['id']}/redeem",
            {"amount": bad},
            status=422,
            code="validation_error",
            param="amount",
        )

    assert summary(await api.transfers(card["id"])) == [
        ("redeem", "posted", 3750, 0),
        ("redeem", "posted", 1250, 3750),
        ("activate", "posted", 5000, 5000),
    ]
    await assert_ledger_ok(rt)


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


# --- card to card -------------------------------------------------------------------------------


async def test_transfer_moves_value_between_own_cards(api: Api, rt: Runtime) -> None:
    a = await api.new_card("EUR", 5000)
    b = await api.new_card("EUR", 1000)
    m = await api.post(f"/v1/cards/{a['id']}/transfer", {"to_card": b["id"], "amount": 1500})
    assert (m["kind"], m["status"], m["amount"], m["currency"], m["balance_after"]) == (
        "transfer",
        "posted",
        1500,
        "EUR",
        3500,
    )
    assert (m["direction"], m["card_id"], m["counterparty_card_id"]) == ("debit", a["id"], b["id"])
    assert (m["card"]["id"], m["card"]["balance"], m["card"]["available"]) == (a["id"], 3500, 3500)
    assert await money(api, b["id"]) == (2500, 2500)

    seen_by_b = (await api.transfers(b["id"]))[0]
    assert (seen_by_b["id"], seen_by_b["kind"], seen_by_b["direction"], seen_by_b["balance_after"]) == (
        m["id"],
        "transfer",
        "credit",
        2500,
    )

    await api.error(
        "POST",
        f"/v1/cards/{a['id']}/transfer",
        {"to_card": b["id"], "amount": 3501},
        status=422,
        code="insufficient_funds",
        param="amount",
    )
    await api.error(
        "POST",
        f"/v1/cards/{a['id']}/transfer",
        {"to_card": a["id"], "amount": 1},
        status=422,
        code="validation_error",
        param="to_card",
    )
    await api.error(
        "POST",
        f"/v1/cards/{a['id']}/transfer",
        {"to_card": b["id"], "amount": 0},
        status=422,
        code="validation_error",
        param="amount",
    )
    await api.error(
        "POST",
        f"/v1/cards/{a['id']}/transfer",
        {"to_card": "card_nope", "amount": 1},
        status=404,
        code="not_found",
        param="to_card",
    )
    await api.error(
        "POST", f"/v1/cards/{a['id']}/transfer", {"amount": 1}, status=422, code="validation_error", param="to_card"
    )
    assert await money(api, a["id"]) == (3500, 3500)
    await assert_ledger_ok(rt)


async def test_transfer_refuses_other_currency_and_other_tenants_card(api: Api, other: Api, rt: Runtime) -> None:
    eur = await api.new_card("EUR", 5000)
    usd = await api.new_card("USD", 5000)
    theirs = await other.new_card("EUR", 100)
    await api.error(
        "POST",
        f"/v1/cards/{eur['id']}/transfer",
        {"to_card": usd["id"], "amount": 100},
        status=422,
        code="currency_mismatch",
        param="to_card",
    )
    await api.error(
        "POST",
        f"/v1/cards/{eur['id']}/transfer",
        {"to_card": theirs["id"], "amount": 100},
        status=404,
        code="not_found",
        param="to_card",
    )
    # And the other way round: their card is not ours to take from.
    await other.error(
        "POST",
        f"/v1/cards/{theirs['id']}/transfer",
        {"to_card": eur["id"], "amount": 50},
        status=404,
        code="not_found",
        param="to_card",
    )
    assert await money(api, eur["id"]) == (5000, 5000)
    assert await money(api, usd["id"]) == (5000, 5000)
    assert await money(other, theirs["id"]) == (100, 100)
    await assert_ledger_ok(rt)


# --- adjustments --------------------------------------------------------------------------------


async def test_adjust_by_signed_amount_with_a_reason(api: Api, rt: Runtime, clock: FakeClock) -> None:
    card = await api.new_card("EUR", 5000)
    up = await api.post(f"/v1/cards/{card['id']}/adjust", {"amount": 250, "reason": " goodwill "})
    assert (up["kind"], up["status"], up["amount"], up["balance_after"], up["direction"]) == (
        "adjust",
        "posted",
        250,
        5250,
        "credit",
    )
    assert up["reason"] == "goodwill"
    clock.advance(seconds=1)
    down = await api.post(f"/v1/cards/{card['id']}/adjust", {"amount": -1000, "reason": "double issue"})
    assert (down["kind"], down["amount"], down["balance_after"], down["direction"]) == ("adjust", 1000, 4250, "debit")
    assert (down["card"]["balance"], down["card"]["available"]) == (4250, 4250)

    await api.error(
        "POST",
        f"/v1/cards/{card['id']}/adjust",
        {"amount": -4251, "reason": "x"},
        status=422,
        code="insufficient_funds",
        param="amount",
    )
    await api.error(
        "POST",
        f"/v1/cards/{card['id']}/adjust",
        {"amount": 0, "reason": "x"},
        status=422,
        code="validation_error",
        param="amount",
    )
    for body in (
        {"amount": 10},
        {"amount": 10, "reason": ""},
        {"amount": 10, "reason": "   "},
        {"amount": 10, "reason": None},
    ):
        await api.error(
            "POST", f"/v1/cards/{card['id']}/adjust", body, status=422, code="validation_error", param="reason"
        )
    assert summary(await api.transfers(card["id"])) == [
        ("adjust", "posted", 1000, 4250),
        ("adjust", "posted", 250, 5250),
        ("activate", "posted", 5000, 5000),
    ]
    await assert_ledger_ok(rt)


# --- states -------------------------------------------------------------------------------------


async def test_block_unblock_and_disable(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 5000)
    blocked = await api.post(f"/v1/cards/{card['id']}/block", {"reason": "fraud check"})
    assert (blocked["status"], blocked["status_reason"], blocked["balance"]) == ("blocked", "fraud check", 5000)
    assert (await api.card(card["id"]))["status"] == "blocked"
    await api.error("POST", f"/v1/cards/{card['id']}/block", status=422, code="card_blocked", param="card")

    unblocked = await api.post(f"/v1/cards/{card['id']}/unblock")  # body optional
    assert unblocked["status"] == "active"
    await api.error("POST", f"/v1/cards/{card['id']}/unblock", status=409, code="invalid_state", param="card")

    disabled = await api.post(f"/v1/cards/{card['id']}/disable", {"reason": "lost"})
    assert (disabled["status"], disabled["status_reason"], disabled["balance"]) == ("disabled", "lost", 5000)
    for action in ("block", "unblock", "disable"):
        await api.error("POST", f"/v1/cards/{card['id']}/{action}", status=422, code="card_disabled", param="card")

    # A blocked card that was never activated returns to inactive.
    fresh = await api.new_card("EUR", None)
    assert (await api.post(f"/v1/cards/{fresh['id']}/block"))["status"] == "blocked"
    assert (await api.post(f"/v1/cards/{fresh['id']}/unblock"))["status"] == "inactive"
    assert (await api.post(f"/v1/cards/{fresh['id']}/block", {}))["status"] == "blocked"
    assert (await api.post(f"/v1/cards/{fresh['id']}/disable", {"reason": None}))["status"] == "disabled"
    await api.error(
        "POST",
        f"/v1/cards/{fresh['id']}/block",
        {"reason": "x" * 501},
        status=422,
        code="validation_error",
        param="reason",
    )
    await assert_ledger_ok(rt)


async def test_each_state_refuses_money_with_its_own_code(api: Api, rt: Runtime, clock: FakeClock) -> None:
    peer = await api.new_card("EUR", 1000)
    inactive = await api.new_card("EUR", None)
    blocked = await api.new_card("EUR", 1000)
    await api.post(f"/v1/cards/{blocked['id']}/block")
    disabled = await api.new_card("EUR", 1000)
    await api.post(f"/v1/cards/{disabled['id']}/disable")
    swept = await api.new_card("EUR", 1000, expires_at=(clock.now + timedelta(hours=1)).isoformat())
    clock.advance(hours=2)
    assert (await sweep_once(rt)).cards_expired == 1
    lapsed = await api.new_card("EUR", 1000, expires_at=(clock.now + timedelta(minutes=5)).isoformat())
    clock.advance(minutes=10)  # past its date, but not swept yet
    assert (await api.card(lapsed["id"]))["status"] == "active"
    assert (await api.card(swept["id"]))["status"] == "expired"

    def ops(card_id: str) -> list[tuple[str, str, dict[str, Any], str]]:
        return [
            ("reload", f"/v1/cards/{card_id}/reload", {"amount": 100}, "card"),
            ("redeem", f"/v1/cards/{card_id}/redeem", {"amount": 100}, "card"),
            ("hold", f"/v1/cards/{card_id}/redeem", {"amount": 100, "capture": False}, "card"),
            ("transfer out", f"/v1/cards/{card_id}/transfer", {"to_card": peer["id"], "amount": 100}, "card"),
            ("transfer in", f"/v1/cards/{peer['id']}/transfer", {"to_card": card_id, "amount": 100}, "to_card"),
        ]

    expected = {
        inactive["id"]: "card_inactive",
        blocked["id"]: "card_blocked",
        disabled["id"]: "card_disabled",
        lapsed["id"]: "card_expired",
        swept["id"]: "card_expired",
    }
    for card_id, code in expected.items():
        for _name, path, body, param in ops(card_id):
            await api.error("POST", path, body, status=422, code=code, param=param)

    # Activation: only for an inactive card.
    await api.error(
        "POST", f"/v1/cards/{peer['id']}/activate", {"amount": 1}, status=409, code="invalid_state", param="card"
    )
    for card_id, code in (
        (blocked["id"], "card_blocked"),
        (disabled["id"], "card_disabled"),
        (swept["id"], "card_expired"),
    ):
        await api.error("POST", f"/v1/cards/{card_id}/activate", {"amount": 1}, status=422, code=code, param="card")
    late = await api.new_card("EUR", None, expires_at=(clock.now + timedelta(minutes=1)).isoformat())
    clock.advance(minutes=2)
    await api.error(
        "POST", f"/v1/cards/{late['id']}/activate", {"amount": 1}, status=422, code="card_expired", param="card"
    )

    # Adjustments reach a blocked card, but no inactive, disabled or expired one.
    adj = await api.post(f"/v1/cards/{blocked['id']}/adjust", {"amount": -100, "reason": "chargeback"})
    assert (adj["card"]["status"], adj["card"]["balance"]) == ("blocked", 900)
    for card_id, code in expected.items():
        if card_id != blocked["id"]:
            await api.error(
                "POST", f"/v1/cards/{card_id}/adjust", {"amount": 5, "reason": "x"}, status=422, code=code, param="card"
            )

    # State changes on an expired card.
    for action in ("block", "unblock", "disable"):
        await api.error("POST", f"/v1/cards/{swept['id']}/{action}", status=422, code="card_expired", param="card")

    # Nothing moved: balances as they were.
    assert await money(api, inactive["id"]) == (0, 0)
    assert await money(api, blocked["id"]) == (900, 900)
    assert await money(api, disabled["id"]) == (1000, 1000)
    assert await money(api, lapsed["id"]) == (1000, 1000)
    assert await money(api, swept["id"]) == (0, 0)
    assert await money(api, peer["id"]) == (1000, 1000)
    await assert_ledger_ok(rt)


# --- the sweeper ---------------------------------------------------------------------------------


async def test_sweeper_expires_cards_moving_their_balance(api: Api, rt: Runtime, clock: FakeClock) -> None:
    tomorrow = (clock.now + timedelta(days=1)).isoformat()
    held = await api.new_card("EUR", 5000, expires_at=tomorrow)
    hold = await api.post(f"/v1/cards/{held['id']}/redeem", {"amount": 1200, "capture": False})
    await api.post(f"/v1/cards/{held['id']}/redeem", {"amount": 800})
    blocked = await api.new_card("KWD", 3333, expires_at=tomorrow)
    await api.post(f"/v1/cards/{blocked['id']}/block")
    inactive = await api.new_card("EUR", None, expires_at=tomorrow)
    spent = await api.new_card("EUR", 100, expires_at=tomorrow)
    await api.post(f"/v1/cards/{spent['id']}/redeem", {"amount": 100})
    later = await api.new_card("EUR", 700, expires_at=(clock.now + timedelta(days=10)).isoformat())
    forever = await api.new_card("EUR", 900)

    assert (await sweep_once(rt)).cards_expired == 0
    clock.advance(days=2)
    result = await sweep_once(rt)
    assert result.cards_expired == 4
    assert result.holds_expired == 0  # the card's own expiry released its hold

    got = await api.card(held["id"])
    assert (got["status"], got["balance"], got["available"]) == ("expired", 0, 0)
    assert (await api.get(f"/v1/transfers/{hold['id']}"))["status"] == "voided"
    transfers = await api.transfers(held["id"])
    expire = [t for t in transfers if t["kind"] == "expire"]
    assert [(t["status"], t["amount"], t["balance_after"], t["currency"]) for t in expire] == [
        ("posted", 4200, 0, "EUR")
    ]
    assert sorted(summary(transfers)) == sorted(
        [
            ("expire", "posted", 4200, 0),
            ("redeem", "posted", 800, 4200),
            ("redeem", "voided", 1200, 5000),
            ("activate", "posted", 5000, 5000),
        ]
    )

    b = await api.card(blocked["id"])
    assert (b["status"], b["balance"]) == ("expired", 0)
    newest = (await api.transfers(blocked["id"]))[0]
    assert (newest["kind"], newest["amount"], newest["currency"], newest["balance_after"]) == ("expire", 3333, "KWD", 0)
    i = await api.card(inactive["id"])
    assert (i["status"], i["balance"]) == ("expired", 0)
    assert await api.transfers(inactive["id"]) == []  # nothing to move
    s = await api.card(spent["id"])
    assert s["status"] == "expired"
    assert [t["kind"] for t in await api.transfers(spent["id"])] == ["redeem", "activate"]

    assert (await api.card(later["id"]))["status"] == "active"
    assert (await api.card(forever["id"]))["status"] == "active"
    assert (await api.card(later["id"]))["balance"] == 700

    again = await sweep_once(rt)
    assert (again.cards_expired, again.holds_expired) == (0, 0)
    await api.error(
        "POST", f"/v1/cards/{held['id']}/redeem", {"amount": 1}, status=422, code="card_expired", param="card"
    )
    expired = {c["id"] for c in await api.list_all(status="expired")}
    assert expired == {held["id"], blocked["id"], inactive["id"], spent["id"]}
    await assert_ledger_ok(rt)


# --- a card's transfers -------------------------------------------------------------------------


async def test_card_transfers_page_newest_first(api: Api, rt: Runtime, clock: FakeClock) -> None:
    card = await api.new_card("EUR", 5000)
    made = []
    for i in range(7):
        clock.advance(seconds=1)
        made.append(await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 100 + i}))
    newest_first = [m["id"] for m in reversed(made)]

    walked: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    pages = []
    while True:
        page = await api.get(f"/v1/cards/{card['id']}/transfers", params=params)
        pages.append(len(page["data"]))
        walked += [t["id"] for t in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        params["cursor"] = page["next_cursor"]
    assert pages == [3, 3, 2]
    assert walked[:7] == newest_first
    assert len(set(walked)) == 8
    full = await api.transfers(card["id"])
    assert [t["id"] for t in full] == walked
    assert [t["balance_after"] for t in full] == [
        5000 - sum(100 + j for j in range(i + 1)) for i in reversed(range(7))
    ] + [5000]
    t = full[0]
    assert set(t) >= TRANSFER_FIELDS
    assert (t["kind"], t["status"], t["amount"], t["currency"], t["reference"]) == (
        "redeem",
        "posted",
        106,
        "EUR",
        None,
    )
    await api.error(
        "GET",
        f"/v1/cards/{card['id']}/transfers",
        params={"cursor": "garbage"},
        status=422,
        code="validation_error",
        param="cursor",
    )
    await api.error(
        "GET",
        f"/v1/cards/{card['id']}/transfers",
        params={"limit": 101},
        status=422,
        code="validation_error",
        param="limit",
    )
    await api.error("GET", "/v1/cards/card_nope/transfers", status=404, code="not_found", param="card")
    await assert_ledger_ok(rt)


async def test_get_transfer(api: Api) -> None:
    card = await api.new_card("JPY", 3000)
    m = await api.post(f"/v1/cards/{card['id']}/redeem", {"amount": 1000, "reference": "pos-3"})
    t = await api.get(f"/v1/transfers/{m['id']}")
    assert set(t) >= TRANSFER_FIELDS
    assert (t["id"], t["kind"], t["status"], t["amount"], t["currency"], t["balance_after"], t["reference"]) == (
        m["id"],
        "redeem",
        "posted",
        1000,
        "JPY",
        2000,
        "pos-3",
    )
    assert t["created_at"] == m["created_at"]
    assert "card" not in t
    await api.error("GET", "/v1/transfers/trf_nope", status=404, code="not_found", param="transfer")


async def test_concurrent_redemptions_never_overspend(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 1000)
    path = f"/v1/cards/{card['id']}/redeem"
    bodies = [{"amount": 300}] * 5 + [{"amount": 300, "capture": False}] * 5
    rs = await asyncio.gather(*(api.call("POST", path, body) for body in bodies))
    ok = [r for r in rs if r.status_code == 200]
    assert len(ok) == 3
    for r in rs:
        if r.status_code != 200:
            expect_error(r, 422, "insufficient_funds", "amount")
    held = sum(r.json()["amount"] for r in ok if r.json()["status"] == "pending")
    assert await money(api, card["id"]) == (1000 - (900 - held), 100)
    await assert_ledger_ok(rt)
