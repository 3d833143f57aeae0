"""Money on cards through the API: activate, reload, redeem, card-to-card transfers, adjustments,
a card's transfers, and redemptions racing each other."""

from __future__ import annotations

import asyncio
from typing import Any

from giftwell.services.runtime import Runtime
from tests.conftest import FakeClock
from tests.functional.support import (
    TRANSFER_FIELDS,
    Api,
    assert_ledger_ok,
    expect_error,
    money,
    summary,
)

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


async def test_credits_stop_at_the_balance_ceiling(api: Api, rt: Runtime) -> None:
    # Without the ceiling a run of maximal reloads overflows the 64-bit balance column (a 500 on
    # PostgreSQL, a float silently stored on SQLite).
    from giftwell.domain.ledger import MAX_BALANCE

    card = await api.new_card("EUR", MAX_BALANCE - 10)
    err = await api.error(
        "POST", f"/v1/cards/{card['id']}/reload", {"amount": 11}, status=422, code="validation_error", param="amount"
    )
    assert err["rule"] == "max_balance"
    ok = await api.post(f"/v1/cards/{card['id']}/reload", {"amount": 10})
    assert ok["card"]["balance"] == MAX_BALANCE
    await api.error(
        "POST",
        f"/v1/cards/{card['id']}/adjust",
        {"amount": 1, "reason": "x"},
        status=422,
        code="validation_error",
        param="amount",
    )
    assert (await api.card(card["id"]))["balance"] == MAX_BALANCE
    await assert_ledger_ok(rt)
