"""Per-address limits on the routes that take no bearer token: the OAuth token and revocation
endpoints (429 in OAuth's JSON), the sign-in form and the consent form (429 pages). A request
over the limit is refused before it is looked at, even a right password or a valid code."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from fastapi.routing import APIRoute, iter_route_contexts

from tests import factories
from tests.functional.limits_helpers import client
from tests.functional.web.test_web_pages import authorize_url, csrf_of
from tests.oauth_flow import REDIRECT, token

LIMITS = {"rate_limit_per_ip": "2/minute", "rate_limit_per_token": "0"}
# POST routes outside /v1/ that are not limited per address, with the reason.
UNLIMITED_POSTS = {
    "/logout": "ends the caller's own session: nothing to guess or exhaust",
    "/dashboard/clients": "needs a signed-in session (itself behind the limited sign-in)",
}
# Every dashboard form needs a signed-in session (itself behind the limited sign-in).
UNLIMITED_PREFIX = "/dashboard/"


def assert_slow_down(r) -> int:
    assert r.status_code == 429, r.text
    assert r.json() == {
        "error": "slow_down",
        "error_description": "Too many requests from this address; retry later.",
    }
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["ratelimit-remaining"] == "0"
    retry_after = int(r.headers["retry-after"])
    assert 1 <= retry_after <= 60
    return retry_after


def assert_too_many_page(r) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "Too many attempts" in r.text
    assert r.headers["x-frame-options"] == "DENY"
    assert 1 <= int(r.headers["retry-after"]) <= 60


async def test_token_endpoint_is_limited_per_address(rt, make_app, clock):
    app = make_app(**LIMITS)
    t = await factories.tenant(rt)
    c = await factories.client(rt, t.account_id)
    grant = {"grant_type": "client_credentials", "client_id": c.client.client_id, "client_secret": c.client_secret}
    async with client(app, "198.51.100.1") as here, client(app, "198.51.100.2") as there:
        assert (await token(here, **grant)).status_code == 200
        assert (await token(here, **{**grant, "client_secret": "wrong"})).status_code == 401
        r = await token(here, **grant)  # right credentials, but over the limit
        retry_after = assert_slow_down(r)
        r = await here.post("/oauth/token", data=grant)  # form encoding alike
        assert_slow_down(r)
        assert (await token(there, **grant)).status_code == 200  # another address has its own
        clock.advance(seconds=retry_after)
        assert (await token(here, **grant)).status_code == 200


async def test_revocation_endpoint_is_limited_per_address(rt, make_app):
    app = make_app(**LIMITS)
    t = await factories.tenant(rt)
    c = await factories.client(rt, t.account_id)
    body = {"token": "gwa_unknown", "client_id": c.client.client_id, "client_secret": c.client_secret}
    async with client(app) as http:
        for _ in range(2):
            assert (await http.post("/oauth/revoke", data=body)).status_code == 200
        assert_slow_down(await http.post("/oauth/revoke", data=body))


async def test_sign_in_is_limited_per_address_even_for_the_right_password(rt, make_app, clock):
    app = make_app(**LIMITS)
    t = await factories.tenant(rt)
    await factories.user(rt, t.account_id, email="ann@shop.example")
    async with client(app) as http:
        page = await http.get("/login")  # pages themselves are not limited
        form = {"email": "ann@shop.example", "password": "not the password", "csrf": csrf_of(page.text)}
        for _ in range(2):
            assert (await http.post("/login", data=form)).status_code == 401
        r = await http.post("/login", data={**form, "password": factories.PASSWORD})
        assert_too_many_page(r)
        assert "gw_session" not in r.headers.get("set-cookie", "")
        clock.advance(minutes=1)
        r = await http.post("/login", data={**form, "password": factories.PASSWORD})
        assert r.status_code == 303


async def test_consent_post_is_limited_per_address(rt, make_app):
    app = make_app(**{**LIMITS, "rate_limit_per_ip": "3/minute"})
    t = await factories.tenant(rt)
    await factories.user(rt, t.account_id, email="ann@shop.example")
    c = await factories.client(rt, t.account_id)
    url = authorize_url(c.client.client_id, scope="cards:read")
    async with client(app) as http:
        page = await http.get("/login", params={"next": url})
        form = {"email": "ann@shop.example", "password": factories.PASSWORD, "csrf": csrf_of(page.text), "next": url}
        assert (await http.post("/login", data=form)).status_code == 303  # 1 of 3
        consent = await http.get(url)
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', consent.text))
        assert (await http.post("/oauth/authorize", data={**fields, "decision": "deny"})).status_code == 303
        r = await http.post("/oauth/authorize", data={**fields, "decision": "approve"})  # 3 of 3
        assert r.status_code == 303
        assert "code" in parse_qs(urlsplit(r.headers["location"]).query)
        assert r.headers["location"].startswith(REDIRECT)
        assert_too_many_page(await http.post("/oauth/authorize", data={**fields, "decision": "approve"}))


async def test_every_post_route_outside_v1_is_limited_per_address(make_app):
    """Generated from the route table: a new form or endpoint without a token is limited too,
    or listed in UNLIMITED_POSTS with its reason."""
    app = make_app(rate_limit_per_ip="1/minute", rate_limit_per_token="0")
    posts = [
        ctx.path
        for ctx in iter_route_contexts(app.routes)
        if isinstance(ctx.original_route, APIRoute)
        and "POST" in (ctx.methods or ())
        and not ctx.path.startswith("/v1/")
    ]
    assert {"/oauth/token", "/oauth/revoke", "/login", "/oauth/authorize"} <= set(posts)
    assert set(UNLIMITED_POSTS) <= set(posts)
    assert {"/invite/{token}", "/reset/{token}"} <= set(posts)
    limited = [p for p in posts if p not in UNLIMITED_POSTS and not p.startswith(UNLIMITED_PREFIX)]
    for i, path in enumerate(limited):
        async with client(app, f"198.51.100.{i + 1}") as http:
            await http.post(path, data={})
            r = await http.post(path, data={})
            assert r.status_code == 429, f"POST {path} is not limited per address: {r.status_code}"
            assert "retry-after" in r.headers, path
