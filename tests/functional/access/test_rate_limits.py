"""Rate limits per token and per address: 429 with Retry-After and the RateLimit-* headers,
windows that end, the Sanctum dialect's throttle answer, and counts shared through the database."""

from __future__ import annotations

from giftwell.services import sweep
from tests import factories
from tests.functional.limits_helpers import client

RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


async def test_per_token_limit(rt, make_app, clock):
    app = make_app(rate_limit_per_token="3/minute", rate_limit_per_ip="0")
    t, other = await factories.tenant(rt), await factories.tenant(rt)
    async with client(app) as c:
        for remaining in (2, 1, 0):
            r = await c.get("/v1/cards", headers=t.headers)
            assert r.status_code == 200, r.text
            assert r.headers["ratelimit-limit"] == "3"
            assert r.headers["ratelimit-remaining"] == str(remaining)
            assert 1 <= int(r.headers["ratelimit-reset"]) <= 60
        r = await c.get("/v1/cards", headers=t.headers)
        assert r.status_code == 429
        err = r.json()["error"]
        assert (err["type"], err["code"]) == ("rate_limit_error", "rate_limited")
        assert err["request_id"] == r.headers["x-request-id"]
        retry_after = int(r.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert err["retry_after"] == retry_after
        assert r.headers["ratelimit-remaining"] == "0"
        assert r.headers["ratelimit-reset"] == str(retry_after)

        # Another token has its own allowance.
        assert (await c.get("/v1/cards", headers=other.headers)).status_code == 200

        clock.advance(seconds=retry_after)
        r = await c.get("/v1/cards", headers=t.headers)
        assert r.status_code == 200
        assert r.headers["ratelimit-remaining"] == "2"


async def test_per_ip_limit_counts_every_request_from_an_address(rt, make_app, clock):
    app = make_app(rate_limit_per_token="0", rate_limit_per_ip="2/hour")
    t, other = await factories.tenant(rt), await factories.tenant(rt)
    async with client(app, "198.51.100.7") as c, client(app, "198.51.100.8") as elsewhere:
        assert (await c.get("/v1/cards", headers=t.headers)).status_code == 200
        assert (await c.get("/v1/cards")).status_code == 401  # no token still counts for the address
        r = await c.get("/v1/cards", headers=other.headers)
        assert r.status_code == 429
        assert r.headers["ratelimit-limit"] == "2"
        assert 1 <= int(r.headers["retry-after"]) <= 3600
        assert (await elsewhere.get("/v1/cards", headers=t.headers)).status_code == 200
        clock.advance(hours=1)
        assert (await c.get("/v1/cards", headers=t.headers)).status_code == 200


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(rt, make_app):
    app = make_app(rate_limit_per_token="0", rate_limit_per_ip="1/hour", trusted_proxies="10.0.0.0/8")
    t = await factories.tenant(rt)
    async with client(app, "10.0.0.5") as proxy, client(app, "198.51.100.9") as direct:
        for ip in ("203.0.113.1", "203.0.113.2"):
            h = {**t.headers, "X-Forwarded-For": f"6.6.6.6, {ip}"}
            assert (await proxy.get("/v1/cards", headers=h)).status_code == 200
        h = {**t.headers, "X-Forwarded-For": "203.0.113.1"}
        assert (await proxy.get("/v1/cards", headers=h)).status_code == 429
        # From an untrusted peer the header is ignored: the peer's own address is counted.
        assert (
            await direct.get("/v1/cards", headers={**t.headers, "X-Forwarded-For": "203.0.113.3"})
        ).status_code == 200
        assert (
            await direct.get("/v1/cards", headers={**t.headers, "X-Forwarded-For": "203.0.113.4"})
        ).status_code == 429


async def test_sanctum_dialect_answers_like_laravel(rt, make_app):
    app = make_app(rate_limit_per_token="1/minute", rate_limit_per_ip="0")
    t = await factories.tenant(rt)
    await factories.card(rt, t.account_id, code="6064362450282800076")
    body = {"giftcard_code": "6064362450282800076"}
    async with client(app) as c:
        r = await c.post("/api/giftcards/balance", json=body, headers=t.headers)
        assert r.status_code == 200
        assert r.headers["ratelimit-remaining"] == "0"
        r = await c.post("/api/giftcards/balance", json=body, headers=t.headers)
        assert r.status_code == 429
        assert r.json() == {"message": "Too Many Attempts."}
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.headers["ratelimit-limit"] == "1"


async def test_zero_turns_limits_off(rt, make_app):
    app = make_app(rate_limit_per_token="0", rate_limit_per_ip="0")
    t = await factories.tenant(rt)
    async with client(app) as c:
        r = await c.get("/v1/cards", headers=t.headers)
    assert r.status_code == 200
    assert not any(h in r.headers for h in RATE_HEADERS)


async def test_database_storage_is_shared_between_processes(rt, make_app, clock):
    """Two API processes (two apps, two engines) on one database draw on the same allowance."""
    limits = {"rate_limit_per_token": "3/minute", "rate_limit_per_ip": "0", "rate_limit_storage": "database"}
    one, two = make_app(**limits), make_app(**limits)
    t = await factories.tenant(rt)
    async with client(one) as c1, client(two) as c2:
        assert (await c1.get("/v1/cards", headers=t.headers)).status_code == 200
        assert (await c2.get("/v1/cards", headers=t.headers)).status_code == 200
        r = await c1.get("/v1/cards", headers=t.headers)
        assert r.headers["ratelimit-remaining"] == "0"
        assert (await c2.get("/v1/cards", headers=t.headers)).status_code == 429

        # The sweeper forgets ended windows.
        clock.advance(minutes=1)
        assert (await sweep.sweep_once(one.state.runtime)).counters_purged == 1
        assert (await c2.get("/v1/cards", headers=t.headers)).status_code == 200
