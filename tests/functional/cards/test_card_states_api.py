"""Card states through the API: block, unblock, disable; the error code each state gives every
money operation; and the sweeper expiring cards past their date."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from giftwell.services.runtime import Runtime
from giftwell.services.sweep import sweep_once
from tests.conftest import FakeClock
from tests.functional.support import (
    Api,
    assert_ledger_ok,
    money,
    summary,
)

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
    clock.advance(minutes=10)  # past its date, but not swept (nor read: a read would expire it)
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
    # Refused money left its balance alone; the first read then expired it into breakage.
    lapsed_card = await api.card(lapsed["id"])
    assert (lapsed_card["status"], lapsed_card["balance"]) == ("expired", 0)
    assert [t["kind"] for t in await api.transfers(lapsed["id"])] == ["expire", "activate"]
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


async def test_a_card_reads_as_expired_from_its_expiry_before_any_sweep(
    api: Api, rt: Runtime, clock: FakeClock
) -> None:
    soon = (clock.now + timedelta(minutes=5)).isoformat()
    got = await api.new_card("EUR", 5000, expires_at=soon)
    listed = await api.new_card("EUR", 2500, expires_at=soon)
    looked_up = await api.new_card("EUR", 700, expires_at=soon)
    hold = await api.post(f"/v1/cards/{got['id']}/redeem", {"amount": 1200, "capture": False})
    clock.advance(minutes=5)  # exactly at expires_at; no sweep has run

    card = await api.card(got["id"])
    assert (card["status"], card["balance"], card["available"]) == ("expired", 0, 0)
    assert summary(await api.transfers(got["id"]))[:2] == [
        ("expire", "posted", 5000, 0),
        ("redeem", "voided", 1200, 5000),
    ]
    assert (await api.get(f"/v1/transfers/{hold['id']}"))["status"] == "voided"

    assert listed["id"] not in {c["id"] for c in await api.list_all(status="active")}
    assert {c["id"] for c in await api.list_all(status="expired")} == {got["id"], listed["id"], looked_up["id"]}
    assert (await api.post("/v1/cards/lookup", {"code": looked_up["code"]}))["status"] == "expired"

    # The reads did the sweeper's work, once: nothing is left for it.
    assert (await sweep_once(rt)).cards_expired == 0
    assert [t["kind"] for t in await api.transfers(listed["id"])] == ["expire", "activate"]
    await assert_ledger_ok(rt)
