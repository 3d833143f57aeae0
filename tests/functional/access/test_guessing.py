"""The guessing guard: failed code lookups counted per token and per address, 429 past the
threshold even for a right code, one answer for unknown, blocked and wrong-PIN cards, found cards
not counted, and the Sanctum dialect throttled the same way."""

from __future__ import annotations

import re

from pydantic import TypeAdapter

from giftwell.domain.cards import CardAction
from giftwell.services.cards import lifecycle
from tests import factories
from tests.functional.api.test_route_table import BODIES, api_routes, sanctum_routes
from tests.functional.limits_helpers import client, without_request_id

GUARD = {"guess_max_failures": 3, "guess_window_seconds": 3600, "rate_limit_per_token": "0", "rate_limit_per_ip": "0"}
UNKNOWN = "ZZZZ-ZZZZ-ZZZZ-ZZZZ"


async def lookup(c, t, code: str, **extra):
    return await c.post("/v1/cards/lookup", json={"code": code, **extra}, headers=t.headers)


async def test_failures_throttle_even_a_right_code_until_the_window_ends(rt, make_app, clock):
    app = make_app(**GUARD)
    t = await factories.tenant(rt)
    card = await factories.card(rt, t.account_id)
    async with client(app) as c:
        for _ in range(3):
            assert (await lookup(c, t, UNKNOWN)).status_code == 404
        r = await lookup(c, t, card.code)
        assert r.status_code == 429
        err = r.json()["error"]
        assert (err["type"], err["code"]) == ("rate_limit_error", "too_many_attempts")
        retry_after = int(r.headers["retry-after"])
        assert 1 <= retry_after <= 3600
        assert err["retry_after"] == retry_after
        clock.advance(seconds=retry_after)
        r = await lookup(c, t, card.code)
        assert r.status_code == 200
        assert r.json()["id"] == card.card.id


async def test_a_fresh_idempotency_key_per_guess_is_still_counted(rt, make_app):
    # A stored failure is replayed to a retry with the same key; a guesser who sends a new key
    # with every guess must still be counted and stopped.
    app = make_app(**GUARD)
    t = await factories.tenant(rt)
    card = await factories.card(rt, t.account_id)
    async with client(app) as c:
        for i in range(3):
            r = await c.post(
                "/v1/cards/lookup", json={"code": UNKNOWN}, headers={**t.headers, "Idempotency-Key": f"guess-{i}"}
            )
            assert r.status_code == 404
        replay = await c.post(
            "/v1/cards/lookup", json={"code": UNKNOWN}, headers={**t.headers, "Idempotency-Key": "guess-0"}
        )
        assert replay.status_code == 429  # out of attempts: not even a replay is answered
        r = await c.post(
            "/v1/cards/lookup", json={"code": card.code}, headers={**t.headers, "Idempotency-Key": "right"}
        )
        assert r.status_code == 429


async def test_token_and_address_are_counted_independently(rt, make_app):
    app = make_app(**GUARD)
    a, b = await factories.tenant(rt), await factories.tenant(rt)
    card_a, card_b = await factories.card(rt, a.account_id), await factories.card(rt, b.account_id)
    async with client(app, "198.51.100.1") as here, client(app, "198.51.100.2") as there:
        for _ in range(3):
            assert (await lookup(here, a, UNKNOWN)).status_code == 404
        assert (await lookup(there, a, card_a.code)).status_code == 429  # token a is out, wherever it is
        assert (await lookup(here, b, card_b.code)).status_code == 429  # so is the address, for any token
        assert (await lookup(there, b, card_b.code)).status_code == 200


async def test_unknown_blocked_and_wrong_pin_look_the_same(rt, make_app):
    app = make_app(**{**GUARD, "guess_max_failures": 4})
    t = await factories.tenant(rt)
    blocked = await factories.card(rt, t.account_id)
    async with rt.uow() as uow:
        await lifecycle.change_status(uow, account_id=t.account_id, card_id=blocked.card.id, action=CardAction.BLOCK)
        await uow.commit()
    pinned = await factories.card(rt, t.account_id, pin="4321")
    async with client(app) as c:
        answers = [
            await lookup(c, t, UNKNOWN),
            await lookup(c, t, blocked.code),
            await lookup(c, t, pinned.code, pin="1234"),
            await lookup(c, t, pinned.code),  # a card with a PIN needs it
        ]
        assert {r.status_code for r in answers} == {404}
        bodies = [without_request_id(r.json()) for r in answers]
        assert bodies[0]["error"] == {
            "type": "invalid_request_error",
            "code": "not_found",
            "message": "no such card",
            "param": "code",
        }
        assert all(b == bodies[0] for b in bodies)
        assert len({r.headers.get("content-length") for r in answers}) == 1
        # Each of the four counted as a failure.
        assert (await lookup(c, t, pinned.code, pin="4321")).status_code == 429


async def test_right_pin_finds_the_card_and_a_pin_for_a_card_without_one_is_ignored(rt, make_app):
    app = make_app(**GUARD)
    t = await factories.tenant(rt)
    pinned = await factories.card(rt, t.account_id, pin="4321")
    plain = await factories.card(rt, t.account_id)
    async with client(app) as c:
        r = await lookup(c, t, pinned.code.lower().replace("-", " "), pin="4321")
        assert r.status_code == 200
        assert r.json()["id"] == pinned.card.id
        assert (await lookup(c, t, plain.code, pin="9999")).status_code == 200


async def test_found_cards_do_not_count(rt, make_app):
    app = make_app(**GUARD)
    t = await factories.tenant(rt)
    card = await factories.card(rt, t.account_id)
    async with client(app) as c:
        for _ in range(10):
            assert (await lookup(c, t, card.code)).status_code == 200
        for _ in range(3):
            assert (await lookup(c, t, UNKNOWN)).status_code == 404
        assert (await lookup(c, t, card.code)).status_code == 429


async def test_sanctum_failed_lookups_are_throttled(rt, make_app, clock):
    app = make_app(**GUARD)
    t = await factories.tenant(rt)
    code = "6064362450282800076"
    await factories.card(rt, t.account_id, code=code)
    async with client(app) as c:
        for endpoint in ("retrieve", "balance", "redeem"):
            body = {"giftcard_code": "6064362450282800099", "amount": 1}
            r = await c.post(f"/api/giftcards/{endpoint}", json=body, headers=t.headers)
            assert r.status_code == 404
        r = await c.post("/api/giftcards/balance", json={"giftcard_code": code}, headers=t.headers)
        assert r.status_code == 429
        assert r.json() == {"message": "Too Many Attempts."}
        retry_after = int(r.headers["retry-after"])
        # The native API shares the count: the token is out everywhere.
        native = await lookup(c, t, code)
        assert native.status_code == 429
        clock.advance(seconds=retry_after)
        r = await c.post("/api/giftcards/balance", json={"giftcard_code": code}, headers=t.headers)
        assert r.status_code == 200


async def test_sanctum_still_finds_blocked_cards_to_unblock_them(rt, make_app):
    app = make_app(**GUARD)
    t = await factories.tenant(rt)
    code = "6064362450282800076"
    await factories.card(rt, t.account_id, code=code)
    async with client(app) as c:
        for endpoint in ("block", "retrieve", "unblock"):
            r = await c.post(f"/api/giftcards/{endpoint}", json={"giftcard_code": code}, headers=t.headers)
            assert r.status_code == 200, r.text


async def test_guard_is_shared_through_the_database(rt, make_app):
    limits = {**GUARD, "rate_limit_storage": "database"}
    one, two = make_app(**limits), make_app(**limits)
    t = await factories.tenant(rt)
    card = await factories.card(rt, t.account_id)
    async with client(one) as c1, client(two) as c2:
        assert (await lookup(c1, t, UNKNOWN)).status_code == 404
        assert (await lookup(c2, t, UNKNOWN)).status_code == 404
        assert (await lookup(c1, t, UNKNOWN)).status_code == 404
        assert (await lookup(c2, t, card.code)).status_code == 429


# Routes whose body has a code field that is not a lookup, with the reason.
NOT_LOOKUPS = {
    ("POST", "/v1/cards"): "issues a card with the code given; a taken code conflicts only within the caller's account",
}
CODE_FIELD = re.compile(r"(^|_)code$")


def code_fields(annotation) -> set[str]:
    """Every property named like a card code anywhere in the body's JSON schema."""
    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for name in node.get("properties", {}) if isinstance(node.get("properties"), dict) else ():
                if CODE_FIELD.search(name):
                    found.add(name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(TypeAdapter(annotation).json_schema())
    return found


async def test_every_route_taking_a_code_is_guarded(rt, make_app):
    """Generated from the route table: every native route whose body has a code field, and every
    Sanctum endpoint (each takes `giftcard_code`), refuses a right code once a token has used up
    its failed lookups there."""
    app = make_app(**GUARD)
    routes = []
    for route in api_routes(app):
        if route.body is None or route.key in NOT_LOOKUPS:
            continue
        fields = code_fields(route.body)
        if fields:
            make = BODIES.get(route.key)
            assert make is not None, f"{route}: takes {fields}; add a body to BODIES"
            routes.append((route, fields))
    routes += [(route, {"giftcard_code"}) for route in sanctum_routes(app)]
    assert any(r.path == "/v1/cards/lookup" for r, _ in routes)
    assert set(NOT_LOOKUPS) <= {r.key for r in api_routes(app)}

    for i, (route, fields) in enumerate(routes):
        # A fresh token and address per route: each route must stop a guesser by itself.
        async with client(app, f"198.51.100.{i + 1}") as c:
            t = await factories.tenant(rt)
            card = await factories.card(rt, t.account_id)
            assert "{" not in route.path, f"{route}: a code route with a path parameter; extend this test"
            make = BODIES.get(route.key)
            base = make({"card_code": card.code}) if make is not None else {"amount": 1}  # Sanctum's
            for _ in range(GUARD["guess_max_failures"]):
                r = await c.post(route.path, json={**base, **dict.fromkeys(fields, UNKNOWN)}, headers=t.headers)
                assert r.status_code == 404, f"{route}: {r.text}"
            r = await c.post(route.path, json={**base, **dict.fromkeys(fields, card.code)}, headers=t.headers)
            assert r.status_code == 429, f"{route} is not under the guessing guard: {r.status_code} {r.text}"


async def test_queries_by_full_code_are_guarded_like_lookups(rt, make_app):
    """The card query (native and Wix) finds a card by its full code: each query or count by code
    that finds nothing is a failed lookup; past the threshold even a right code is 429. Queries
    without a code are not counted."""
    app = make_app(**GUARD)
    t = await factories.tenant(rt)
    card = await factories.card(rt, t.account_id)
    wix = {"Authorization": t.token}
    by_code = {"code": {"eq": UNKNOWN}}
    async with client(app) as c:
        for _ in range(5):
            r = await c.post("/v1/cards/query", json={"filter": {"currency": {"eq": "USD"}}}, headers=t.headers)
            assert r.status_code == 200
        found = await c.post("/v1/cards/query", json={"filter": {"code": {"eq": card.code}}}, headers=t.headers)
        assert [x["id"] for x in found.json()["data"]] == [card.card.id]
        assert (await c.post("/v1/cards/query", json={"filter": by_code}, headers=t.headers)).json()["data"] == []
        assert (await c.post("/v1/cards/count", json={"filter": by_code}, headers=t.headers)).json() == {"count": 0}
        r = await c.post("/gift-cards/v1/gift-cards/count", json={"filter": {"code": UNKNOWN}}, headers=wix)
        assert r.json() == {"count": 0}
        r = await c.post("/v1/cards/query", json={"filter": {"code": {"eq": card.code}}}, headers=t.headers)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "too_many_attempts"
        r = await c.post(
            "/gift-cards/v1/gift-cards/query", json={"query": {"filter": {"code": card.code}}}, headers=wix
        )
        assert r.status_code == 429
        assert r.json()["details"]["applicationError"]["code"] == "TOO_MANY_REQUESTS"
        assert int(r.headers["retry-after"]) >= 1


async def test_a_wix_search_by_name_is_not_a_code_lookup(rt, make_app):
    app = make_app(**GUARD)
    t = await factories.tenant(rt)
    card = await factories.card(rt, t.account_id)
    wix = {"Authorization": t.token}
    async with client(app) as c:
        for _ in range(5):
            body = {"search": {"search": {"expression": "nobody named this"}}}
            r = await c.post("/gift-cards/v1/gift-cards/search", json=body, headers=wix)
            assert r.json()["giftCards"] == []
        r = await c.post("/v1/cards/query", json={"filter": {"code": {"eq": card.code}}}, headers=t.headers)
        assert r.status_code == 200
