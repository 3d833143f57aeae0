"""`/v1/cards`: issuing cards, the code shown once, reading and looking them up."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from giftwell.domain import codes
from tests.conftest import FakeClock
from tests.functional.support import GENERATED_CODE, Api, expect_error

CARD_FIELDS = {
    "id",
    "code_last4",
    "currency",
    "initial_amount",
    "balance",
    "available",
    "status",
    "expires_at",
    "source",
    "sender",
    "recipient",
    "metadata",
    "created_at",
}


# --- create -----------------------------------------------------------------------------------


async def test_create_active_card_returns_generated_code_once(api: Api) -> None:
    card = await api.new_card("EUR", 5000)

    assert set(card) >= CARD_FIELDS
    assert card["id"].startswith("card_")
    assert GENERATED_CODE.match(card["code"]), card["code"]
    assert card["code_last4"] == codes.normalize(card["code"])[-4:]
    assert card["currency"] == "EUR"
    assert (card["initial_amount"], card["balance"], card["available"]) == (5000, 5000, 5000)
    assert card["status"] == "active"
    assert card["source"] == "manual"
    assert card["expires_at"] is None
    assert card["activated_at"] is not None
    assert card["pin"] is None
    assert card["has_pin"] is False
    assert card["metadata"] == {}
    assert card["sender"] == {"name": None, "email": None}
    assert card["recipient"] == {"name": None, "email": None}

    got = await api.card(card["id"])
    assert "code" not in got
    assert "pin" not in got
    assert {k: got[k] for k in CARD_FIELDS} == {k: card[k] for k in CARD_FIELDS}

    activation = await api.transfers(card["id"])
    assert [(t["kind"], t["status"], t["amount"], t["balance_after"]) for t in activation] == [
        ("activate", "posted", 5000, 5000)
    ]


async def test_generated_codes_differ(api: Api) -> None:
    made = [(await api.new_card())["code"] for _ in range(5)]
    assert len(set(made)) == 5
    assert all(GENERATED_CODE.match(c) for c in made)


def card_objects(value: Any) -> list[dict[str, Any]]:
    """Every card object anywhere in a response body."""
    if isinstance(value, list):
        return [c for v in value for c in card_objects(v)]
    if isinstance(value, dict):
        own = [value] if value.get("object") == "card" else []
        return own + [c for v in value.values() for c in card_objects(v)]
    return []


async def test_code_and_pin_appear_in_no_response_but_create(api: Api) -> None:
    # Lower-case letters other than a-f appear in no id, request id or timestamp.
    card = await api.new_card("EUR", 5000, pin="PqZx79w", recipient={"email": "r@example.com"})
    peer = await api.new_card("EUR", 100)
    code, cid = card["code"], card["id"]
    assert (card["pin"], card["has_pin"]) == ("PqZx79w", True)
    secrets = {code, codes.normalize(code), code.lower(), codes.normalize(code).lower(), "PqZx79w"}

    bodies: list[str] = []

    async def seen(method: str, path: str, json: Any = None, **kw: Any) -> Any:
        r = await api.call(method, path, json, **kw)
        assert r.status_code < 300, r.text
        bodies.append(r.text)
        return r.json()

    await seen("GET", f"/v1/cards/{cid}")
    await seen("GET", "/v1/cards")
    await seen("GET", "/v1/cards", params={"code_suffix": card["code_last4"]})
    await seen("GET", "/v1/cards", params={"recipient_email": "r@example.com"})
    await seen("POST", "/v1/cards/lookup", {"code": code, "pin": "PqZx79w"})
    await seen("POST", "/v1/cards/lookup", {"code": codes.normalize(code).lower(), "pin": "PqZx79w"})
    redeemed = await seen("POST", f"/v1/cards/{cid}/redeem", {"amount": 100})
    hold = await seen("POST", f"/v1/cards/{cid}/redeem", {"amount": 50, "capture": False})
    await seen("POST", f"/v1/transfers/{hold['id']}/capture", {})
    await seen("POST", f"/v1/transfers/{redeemed['id']}/refund", {"amount": 10})
    await seen("GET", f"/v1/transfers/{redeemed['id']}")
    await seen("POST", f"/v1/cards/{cid}/reload", {"amount": 100})
    await seen("POST", f"/v1/cards/{cid}/adjust", {"amount": -5, "reason": "fix"})
    await seen("POST", f"/v1/cards/{cid}/transfer", {"to_card": peer["id"], "amount": 5})
    await seen("POST", f"/v1/cards/{peer['id']}/transfer", {"to_card": cid, "amount": 5})
    await seen("POST", f"/v1/cards/{cid}/block", {"reason": "check"})
    await seen("POST", f"/v1/cards/{cid}/unblock")
    await seen("GET", f"/v1/cards/{cid}/transfers")
    await seen("GET", f"/v1/cards/{peer['id']}/transfers")
    await seen("POST", f"/v1/cards/{cid}/disable")
    # A refused operation must not echo the code either.
    refused = await api.call("POST", f"/v1/cards/{cid}/redeem", {"amount": 1})
    assert refused.status_code == 422
    bodies.append(refused.text)

    for body in bodies:
        for secret in secrets:
            assert secret not in body, body
    shown = [c for body in bodies for c in card_objects(json.loads(body))]
    assert len(shown) >= 18
    for c in shown:
        assert "code" not in c
        assert "pin" not in c
        assert c["code_last4"] == card["code_last4"] or c["id"] == peer["id"]


async def test_create_without_amount_or_zero_is_inactive(api: Api) -> None:
    for body in ({"currency": "EUR"}, {"currency": "EUR", "amount": 0}):
        card = await api.post("/v1/cards", body, status=201)
        assert card["status"] == "inactive"
        assert (card["initial_amount"], card["balance"], card["available"]) == (0, 0, 0)
        assert card["activated_at"] is None
        assert await api.transfers(card["id"]) == []


async def test_amounts_are_minor_units_of_each_currency(api: Api) -> None:
    jpy = await api.new_card("JPY", 5000)  # 5000 yen: JPY has no minor unit
    kwd = await api.new_card("KWD", 12345)  # 12.345 dinars: three decimals
    eur = await api.new_card("EUR", 1999)  # 19.99 euros
    assert [(c["currency"], c["balance"]) for c in (jpy, kwd, eur)] == [("JPY", 5000), ("KWD", 12345), ("EUR", 1999)]

    m = await api.post(f"/v1/cards/{jpy['id']}/redeem", {"amount": 1})
    assert (m["currency"], m["amount"], m["card"]["balance"]) == ("JPY", 1, 4999)
    m = await api.post(f"/v1/cards/{kwd['id']}/redeem", {"amount": 5})
    assert (m["currency"], m["amount"], m["card"]["balance"]) == ("KWD", 5, 12340)


async def test_supplied_code_is_kept_and_unique_per_account(api: Api, other: Api) -> None:
    card = await api.new_card("EUR", 1000, code="  Shop-2024-Gift-ab12 ")
    assert card["code"] == "Shop-2024-Gift-ab12"
    assert card["code_last4"] == "AB12"

    # The same code in another spelling is the same code: refused, naming the field.
    for spelling in ("Shop-2024-Gift-ab12", "SHOP2024GIFTAB12", "shop 2024 gift ab12"):
        await api.error(
            "POST", "/v1/cards", {"currency": "EUR", "code": spelling}, status=409, code="conflict", param="code"
        )

    # Codes are unique per account, not across accounts.
    theirs = await other.new_card("EUR", 300, code="SHOP-2024-GIFT-AB12")
    assert (await other.post("/v1/cards/lookup", {"code": "shop2024giftab12"}))["id"] == theirs["id"]
    assert (await api.post("/v1/cards/lookup", {"code": "shop2024giftab12"}))["id"] == card["id"]
    assert len(await api.list_all()) == 1


async def test_supplied_code_must_be_8_to_64_letters_or_digits(api: Api) -> None:
    for bad in ("abc-123", "abcd_efgh", "gift card!", "-- -- -- --", "A" * 65):
        await api.error(
            "POST", "/v1/cards", {"currency": "EUR", "code": bad}, status=422, code="validation_error", param="code"
        )
    assert await api.list_all() == []


async def test_pin_is_stored_but_only_shown_at_creation(api: Api) -> None:
    card = await api.new_card("EUR", 100, pin="A1b2C3")
    assert (card["pin"], card["has_pin"]) == ("A1b2C3", True)
    got = await api.card(card["id"])
    assert got["has_pin"] is True
    assert "pin" not in got
    for bad in ("12", "12 34", "1234567890abcdefg", "12-4"):
        await api.error(
            "POST", "/v1/cards", {"currency": "EUR", "pin": bad}, status=422, code="validation_error", param="pin"
        )


async def test_metadata_parties_and_expiry_round_trip(api: Api, clock: FakeClock) -> None:
    expires = (clock.now + timedelta(days=365)).replace(microsecond=0)
    meta = {"order": "A-17", "line": 3, "tags": ["xmas", "vip"], "nested": {"ok": True, "ratio": 0.5}}
    card = await api.new_card(
        "EUR",
        2500,
        metadata=meta,
        sender={"name": "  Ann Shop ", "email": "Orders@Shop.Example"},
        recipient={"name": "Bo", "email": "BO@example.com"},
        expires_at=expires.isoformat(),
    )
    got = await api.card(card["id"])
    for c in (card, got):
        assert c["metadata"] == meta
        assert c["sender"] == {"name": "Ann Shop", "email": "orders@shop.example"}
        assert c["recipient"] == {"name": "Bo", "email": "bo@example.com"}
        assert c["expires_at"].replace("Z", "+00:00") == expires.isoformat()

    for party in ("sender", "recipient"):
        await api.error(
            "POST",
            "/v1/cards",
            {"currency": "EUR", party: {"email": "not-an-email"}},
            status=422,
            code="validation_error",
            param=f"{party}.email",
        )
        await api.error(
            "POST",
            "/v1/cards",
            {"currency": "EUR", party: {"phone": "123"}},
            status=422,
            code="validation_error",
            param=f"{party}.phone",
        )
    too_many = {f"k{i}": i for i in range(51)}
    await api.error(
        "POST",
        "/v1/cards",
        {"currency": "EUR", "metadata": too_many},
        status=422,
        code="validation_error",
        param="metadata",
    )


# --- read and look up ---------------------------------------------------------------------------


async def test_get_unknown_card_is_404(api: Api) -> None:
    await api.error("GET", "/v1/cards/card_01HZZZZZZZZZZZZZZZZZZZZZZZ", status=404, code="not_found", param="card")
    await api.error("GET", "/v1/cards/nonsense", status=404, code="not_found", param="card")


async def test_lookup_ignores_case_spaces_and_dashes(api: Api) -> None:
    card = await api.new_card("EUR", 700)
    plain = codes.normalize(card["code"])
    for spelling in (
        card["code"],
        plain,
        plain.lower(),
        " ".join(plain),
        f"  {card['code'].lower()}  ",
        "-".join(plain),
    ):
        found = await api.post("/v1/cards/lookup", {"code": spelling})
        assert found["id"] == card["id"]
        assert found["balance"] == 700
        assert "code" not in found


async def test_lookup_failures_say_the_same_thing(api: Api, other: Api) -> None:
    theirs = await other.new_card("EUR", 100)
    mine = await api.new_card("EUR", 100)
    wrong_char = ("0" if mine["code"][0] != "0" else "1") + mine["code"][1:]
    messages = set()
    for code in (theirs["code"], wrong_char, "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "----"):
        err = await api.error("POST", "/v1/cards/lookup", {"code": code}, status=404, code="not_found", param="code")
        messages.add(err["message"])
    assert len(messages) == 1  # a guesser learns nothing from the wording


async def test_response_is_json_with_request_id(api: Api) -> None:
    r = await api.call("POST", "/v1/cards", {"currency": "EUR", "amount": 100})
    assert r.status_code == 201
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-request-id"]
    card = r.json()
    r = await api.call("GET", f"/v1/cards/{card['id']}/nope")
    expect_error(r, 404, "not_found", None)
