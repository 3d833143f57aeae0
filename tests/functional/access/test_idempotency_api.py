"""`Idempotency-Key` on every POST: replays, reuse with other parameters, keys in flight, scope
per account, and how long keys are kept."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from giftwell.services.access import idempotency
from giftwell.services.runtime import Runtime
from giftwell.services.sweep import sweep_once
from tests.conftest import FakeClock
from tests.functional.support import Api, assert_ledger_ok, expect_error


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def send(api: Api, path: str, payload: dict[str, Any] | None, key: str, **headers: str) -> httpx.Response:
    """POST exact bytes, so a test can compute the request's fingerprint itself."""
    h = {**api.headers, "Idempotency-Key": key, "Content-Type": "application/json", **headers}
    content = body_bytes(payload) if payload is not None else b""
    return await api.client.post(path, content=content, headers=h)


def replayed(r: httpx.Response) -> bool:
    return r.headers.get("idempotent-replayed") == "true"


async def test_replay_returns_the_stored_response_and_moves_money_once(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 5000)
    path = f"/v1/cards/{card['id']}/redeem"
    first = await send(api, path, {"amount": 1250}, "redeem-1")
    assert first.status_code == 200, first.text
    assert not replayed(first)

    for _ in range(2):
        again = await send(api, path, {"amount": 1250}, "redeem-1")
        assert again.status_code == 200
        assert again.content == first.content
        assert replayed(again)
        assert again.headers["x-request-id"]  # the replay still has its own request id header

    assert [t["kind"] for t in await api.transfers(card["id"])] == ["redeem", "activate"]
    assert (await api.card(card["id"]))["balance"] == 3750
    await assert_ledger_ok(rt)


async def test_every_money_post_replays_without_a_second_transfer(api: Api, rt: Runtime) -> None:
    a = await api.new_card("EUR", 5000)
    b = await api.new_card("EUR", 0)
    hold_r = await send(api, f"/v1/cards/{a['id']}/redeem", {"amount": 500, "capture": False}, "hold")
    hold = hold_r.json()
    red = (await send(api, f"/v1/cards/{a['id']}/redeem", {"amount": 300}, "red")).json()
    calls: list[tuple[str, dict[str, Any] | None]] = [
        (f"/v1/cards/{b['id']}/activate", {"amount": 100}),
        (f"/v1/cards/{a['id']}/reload", {"amount": 200}),
        (f"/v1/cards/{a['id']}/transfer", {"to_card": b["id"], "amount": 50}),
        (f"/v1/cards/{a['id']}/adjust", {"amount": -25, "reason": "fix"}),
        (f"/v1/transfers/{hold['id']}/capture", {"amount": 400}),
        (f"/v1/transfers/{red['id']}/refund", {"amount": 100}),
        (f"/v1/cards/{b['id']}/block", {"reason": "check"}),
        (f"/v1/cards/{b['id']}/unblock", None),
    ]
    for i, (path, payload) in enumerate(calls):
        first = await send(api, path, payload, f"k{i}")
        assert first.status_code == 200, (path, first.text)
        again = await send(api, path, payload, f"k{i}")
        assert (again.status_code, again.content, replayed(again)) == (200, first.content, True), path
    assert replayed(await send(api, f"/v1/cards/{a['id']}/redeem", {"amount": 500, "capture": False}, "hold"))

    kinds_a = sorted(t["kind"] for t in await api.transfers(a["id"]))
    assert kinds_a == sorted(["activate", "redeem", "redeem", "reload", "transfer", "adjust", "refund"])
    assert sorted(t["kind"] for t in await api.transfers(b["id"])) == ["activate", "transfer"]
    # 5000 - 400 captured - 300 + 200 - 50 - 25 + 100 refunded
    assert (await api.card(a["id"]))["balance"] == 4525
    assert (await api.card(b["id"]))["balance"] == 150
    await assert_ledger_ok(rt)


async def test_create_card_replay_returns_the_same_card_and_code(api: Api) -> None:
    payload = {"currency": "EUR", "amount": 1000, "pin": "4321"}
    first = await send(api, "/v1/cards", payload, "new-card")
    assert first.status_code == 201
    again = await send(api, "/v1/cards", payload, "new-card")
    assert (again.status_code, again.content) == (201, first.content)
    assert replayed(again)
    card = first.json()
    assert (again.json()["code"], again.json()["pin"]) == (card["code"], "4321")
    assert [c["id"] for c in await api.list_all()] == [card["id"]]


async def test_same_key_with_other_parameters_is_refused(api: Api) -> None:
    card = await api.new_card("EUR", 5000)
    path = f"/v1/cards/{card['id']}/redeem"
    assert (await send(api, path, {"amount": 100}, "k")).status_code == 200

    r = await send(api, path, {"amount": 101}, "k")
    err = expect_error(r, 422, "idempotency_key_reused", "Idempotency-Key")
    assert err["type"] == "idempotency_error"
    # The same body on another route is another request too.
    other_card = await api.new_card("EUR", 5000)
    expect_error(
        await send(api, f"/v1/cards/{other_card['id']}/redeem", {"amount": 100}, "k"),
        422,
        "idempotency_key_reused",
        "Idempotency-Key",
    )
    expect_error(
        await send(api, f"/v1/cards/{card['id']}/reload", {"amount": 100}, "k"),
        422,
        "idempotency_key_reused",
        "Idempotency-Key",
    )
    assert (await api.card(card["id"]))["balance"] == 4900
    assert (await api.card(other_card["id"]))["balance"] == 5000


async def test_key_in_flight_is_409_until_its_lease_ends(api: Api, rt: Runtime, clock: FakeClock) -> None:
    card = await api.new_card("EUR", 5000)
    path = f"/v1/cards/{card['id']}/redeem"
    payload = {"amount": 700}
    fingerprint = idempotency.request_hash("POST", path, body_bytes(payload))
    # Another request holds the key: claimed, not completed.
    assert await idempotency.claim(rt, account_id=api.tenant.account_id, key="busy", fingerprint=fingerprint) is None

    err = expect_error(await send(api, path, payload, "busy"), 409, "idempotency_key_in_use", "Idempotency-Key")
    assert err["type"] == "idempotency_error"
    assert (await api.card(card["id"]))["balance"] == 5000
    # Other parameters with a busy key: still a reuse.
    expect_error(await send(api, path, {"amount": 1}, "busy"), 422, "idempotency_key_reused", "Idempotency-Key")

    # A request that died holding the key gives it up when its lease ends.
    clock.advance(seconds=rt.settings.idempotency_lease_seconds + 1)
    r = await send(api, path, payload, "busy")
    assert r.status_code == 200, r.text
    assert not replayed(r)
    assert r.json()["card"]["balance"] == 4300
    again = await send(api, path, payload, "busy")
    assert (again.content, replayed(again)) == (r.content, True)
    await assert_ledger_ok(rt)


async def test_a_domain_error_is_stored_and_replayed_identically(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 1000)
    path = f"/v1/cards/{card['id']}/redeem"
    first = await send(api, path, {"amount": 1500}, "too-much", **{"X-Request-Id": "first-try"})
    err = expect_error(first, 422, "insufficient_funds", "amount")
    assert err["request_id"] == "first-try"

    # The card could now pay, but the key's answer is fixed.
    await api.post(f"/v1/cards/{card['id']}/reload", {"amount": 1000})
    again = await send(api, path, {"amount": 1500}, "too-much", **{"X-Request-Id": "second-try"})
    assert (again.status_code, again.content) == (422, first.content)
    assert replayed(again)
    assert again.headers["x-request-id"] == "second-try"
    assert (await api.card(card["id"]))["balance"] == 2000

    # A 404 is a stored answer too.
    missing = await send(api, "/v1/cards/card_nope/redeem", {"amount": 1}, "nope")
    expect_error(missing, 404, "not_found", "card")
    assert (await send(api, "/v1/cards/card_nope/redeem", {"amount": 1}, "nope")).content == missing.content
    await assert_ledger_ok(rt)


async def test_a_request_refused_by_validation_does_not_use_the_key(api: Api) -> None:
    card = await api.new_card("EUR", 1000)
    path = f"/v1/cards/{card['id']}/redeem"
    expect_error(await send(api, path, {"amount": 1.5}, "v"), 422, "validation_error", "amount")
    r = await send(api, path, {"amount": 150}, "v")
    assert r.status_code == 200, r.text
    assert not replayed(r)
    assert r.json()["card"]["balance"] == 850


async def test_keys_belong_to_one_account(api: Api, other: Api) -> None:
    mine = await send(api, "/v1/cards", {"currency": "EUR", "amount": 100}, "shared-key")
    theirs = await send(other, "/v1/cards", {"currency": "EUR", "amount": 100}, "shared-key")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert not replayed(theirs)
    assert mine.json()["id"] != theirs.json()["id"]
    # Another body under the same key is fine for the other account, and each replays its own.
    third = await send(other, "/v1/cards", {"currency": "JPY", "amount": 5}, "k2")
    assert third.status_code == 201
    assert (await send(api, "/v1/cards", {"currency": "EUR", "amount": 100}, "shared-key")).content == mine.content
    assert (await send(other, "/v1/cards", {"currency": "EUR", "amount": 100}, "shared-key")).content == theirs.content
    assert len(await api.list_all()) == 1
    assert len(await other.list_all()) == 2


async def test_keys_are_kept_for_24_hours(api: Api, rt: Runtime, clock: FakeClock) -> None:
    card = await api.new_card("EUR", 5000)
    path = f"/v1/cards/{card['id']}/redeem"
    first = await send(api, path, {"amount": 100}, "daily")

    clock.advance(hours=23, minutes=59)
    await sweep_once(rt)
    kept = await send(api, path, {"amount": 100}, "daily")
    assert (kept.content, replayed(kept)) == (first.content, True)

    clock.advance(hours=1)
    assert (await sweep_once(rt)).keys_purged >= 1
    # Forgotten: the key is free again, even for other parameters.
    fresh = await send(api, path, {"amount": 200}, "daily")
    assert fresh.status_code == 200
    assert not replayed(fresh)
    assert (await api.card(card["id"]))["balance"] == 4700


async def test_idempotency_key_must_be_sane(api: Api) -> None:
    for key in ("x" * 256, "", "tab\there"):
        r = await api.call("POST", "/v1/cards", {"currency": "EUR"}, key=key)
        expect_error(r, 422, "validation_error", "Idempotency-Key")
    assert await api.list_all() == []
    ok = await api.call("POST", "/v1/cards", {"currency": "EUR"}, key="k" * 255)
    assert ok.status_code == 201


async def test_without_a_key_each_post_acts(api: Api) -> None:
    card = await api.new_card("EUR", 5000)
    for _ in range(2):
        r = await api.call("POST", f"/v1/cards/{card['id']}/redeem", {"amount": 100})
        assert r.status_code == 200
        assert "idempotent-replayed" not in r.headers
    assert (await api.card(card["id"]))["balance"] == 4800


async def test_the_same_parameters_written_differently_replay(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 5000)
    path = f"/v1/cards/{card['id']}/redeem"
    h = {**api.headers, "Idempotency-Key": "spelling", "Content-Type": "application/json"}
    first = await api.client.post(path, content=b'{"amount": 100, "reference": "till-4"}', headers=h)
    assert first.status_code == 200, first.text
    for same in (b'{"reference":"till-4","amount":100}', b'  {\n "amount" : 100 ,\t"reference": "till-\\u0034" }  '):
        again = await api.client.post(path, content=same, headers=h)
        assert (again.status_code, again.content, replayed(again)) == (200, first.content, True)
    for other in (
        b'{"amount": 100, "reference": "till-5"}',
        b'{"amount": 100}',
    ):
        expect_error(
            await api.client.post(path, content=other, headers=h), 422, "idempotency_key_reused", "Idempotency-Key"
        )
    assert [t["kind"] for t in await api.transfers(card["id"])] == ["redeem", "activate"]
    await assert_ledger_ok(rt)


async def test_lookup_honours_the_key_too(api: Api) -> None:
    card = await api.new_card("EUR", 5000)
    other_card = await api.new_card("EUR", 100)
    first = await send(api, "/v1/cards/lookup", {"code": card["code"]}, "look")
    assert first.status_code == 200
    assert first.json()["id"] == card["id"]
    again = await send(api, "/v1/cards/lookup", {"code": card["code"]}, "look")
    assert (again.status_code, again.content, replayed(again)) == (200, first.content, True)
    expect_error(
        await send(api, "/v1/cards/lookup", {"code": other_card["code"]}, "look"),
        422,
        "idempotency_key_reused",
        "Idempotency-Key",
    )
    missing = await send(api, "/v1/cards/lookup", {"code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"}, "look-miss")
    expect_error(missing, 404, "not_found", "code")
    assert (
        await send(api, "/v1/cards/lookup", {"code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"}, "look-miss")
    ).content == missing.content


async def test_concurrent_retries_with_one_key_act_once(api: Api, rt: Runtime) -> None:
    card = await api.new_card("EUR", 1000)
    path = f"/v1/cards/{card['id']}/redeem"
    rs = await asyncio.gather(*(send(api, path, {"amount": 10}, "racing") for _ in range(6)))
    fresh = [r for r in rs if r.status_code == 200 and not replayed(r)]
    assert len(fresh) == 1
    for r in rs:
        if r.status_code == 200:
            assert r.content == fresh[0].content
        else:
            expect_error(r, 409, "idempotency_key_in_use", "Idempotency-Key")
    assert (await api.card(card["id"]))["balance"] == 990
    assert [t["kind"] for t in await api.transfers(card["id"])] == ["redeem", "activate"]
    await assert_ledger_ok(rt)
