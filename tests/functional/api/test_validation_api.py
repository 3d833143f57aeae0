"""Bad input is always a 4xx naming the field in `param`: never a 500, never a silent rounding.
The contract's cases, and extreme or hostile values that once reached the database."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

from giftwell.services.runtime import Runtime
from tests.conftest import FakeClock
from tests.functional.support import (
    ENVELOPE_KEYS,
    Api,
    assert_ledger_ok,
    expect_error,
)

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
        ({"currency": "eur"}, "currency"),
        ({"currency": "XXX"}, "currency"),
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
