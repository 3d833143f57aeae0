"""Sign-in, consent and dashboard pages over HTTP (no browser): cookies, CSRF, lockout."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests import factories
from tests.oauth_flow import REDIRECT, token

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, html
    return m.group(1)


async def sign_in(http, email, password=factories.PASSWORD, next_url="/dashboard/clients"):
    page = await http.get("/login", params={"next": next_url})
    return await http.post(
        "/login", data={"email": email, "password": password, "csrf": csrf_of(page.text), "next": next_url}
    )


def authorize_url(client_id, **extra):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "xyz", **extra}
    return "/oauth/authorize?" + urlencode(params)


async def test_authorize_signs_in_then_consents_then_redirects(rt, app_client):
    t = await factories.tenant(rt)
    u = await factories.user(rt, t.account_id, email="ann@shop.example")
    c = await factories.client(rt, t.account_id)
    url = authorize_url(c.client.client_id, scope="cards:read account:read")
    r = await app_client.get(url)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=%2Foauth%2Fauthorize%3F")

    r = await sign_in(app_client, "ANN@shop.example", next_url=url)
    assert r.status_code == 303
    assert r.headers["location"] == url
    cookie = r.headers["set-cookie"]
    assert "gw_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # served over http

    consent = await app_client.get(url)
    assert consent.status_code == 200
    assert consent.headers["x-frame-options"] == "DENY"
    assert "Read cards and their transfers" in consent.text
    assert "account:read" in consent.text
    assert "cards:write" not in consent.text
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', consent.text))
    r = await app_client.post("/oauth/authorize", data={**form, "decision": "approve"})
    assert r.status_code == 303
    got = parse_qs(urlsplit(r.headers["location"]).query)
    assert r.headers["location"].startswith(REDIRECT + "?")
    assert got["state"] == ["xyz"]
    tok = await token(
        app_client,
        grant_type="authorization_code",
        code=got["code"][0],
        redirect_uri=REDIRECT,
        client_id=c.client.client_id,
        client_secret=c.client_secret,
    )
    assert tok.status_code == 200, tok.text
    assert u.id


async def test_consent_post_needs_the_csrf_token_and_our_origin(rt, app_client):
    t = await factories.tenant(rt)
    u = await factories.user(rt, t.account_id)
    c = await factories.client(rt, t.account_id)
    url = authorize_url(c.client.client_id)
    await sign_in(app_client, u.email)
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', (await app_client.get(url)).text))
    forged = {**form, "csrf": "0" * 64, "decision": "approve"}
    assert (await app_client.post("/oauth/authorize", data=forged)).status_code == 403
    no_token = {k: v for k, v in form.items() if k != "csrf"} | {"decision": "approve"}
    assert (await app_client.post("/oauth/authorize", data=no_token)).status_code == 403
    r = await app_client.post(
        "/oauth/authorize", data={**form, "decision": "approve"}, headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403
    ok = await app_client.post(
        "/oauth/authorize", data={**form, "decision": "deny"}, headers={"Origin": "http://testserver"}
    )
    assert ok.status_code == 303
    assert "error=access_denied" in ok.headers["location"]


async def test_unregistered_redirect_uri_shows_an_error_page(rt, app_client):
    t = await factories.tenant(rt)
    u = await factories.user(rt, t.account_id)
    c = await factories.client(rt, t.account_id)
    await sign_in(app_client, u.email)
    r = await app_client.get(authorize_url(c.client.client_id, redirect_uri="https://evil.example/cb"))
    assert r.status_code == 400
    assert "location" not in r.headers


async def test_login_needs_csrf_and_fails_alike_for_unknown_and_wrong(rt, app_client):
    t = await factories.tenant(rt)
    u = await factories.user(rt, t.account_id)
    r = await app_client.post("/login", data={"email": u.email, "password": factories.PASSWORD})
    assert r.status_code == 403
    wrong = await sign_in(app_client, u.email, password="not the password at all")
    unknown = await sign_in(app_client, "nobody@shop.example", password="not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "Email or password is incorrect." in wrong.text
    assert "Email or password is incorrect." in unknown.text


async def test_lockout_after_repeated_failures(rt, app_client, clock):
    t = await factories.tenant(rt)
    u = await factories.user(rt, t.account_id)
    for _ in range(5):
        assert (await sign_in(app_client, u.email, password="wrong password here")).status_code == 401
    # Locked: even the right password fails, with the same message.
    locked = await sign_in(app_client, u.email)
    assert locked.status_code == 401
    assert "Email or password is incorrect." in locked.text
    clock.advance(minutes=15, seconds=1)
    assert (await sign_in(app_client, u.email)).status_code == 303


async def test_next_never_leaves_the_site(rt, app_client):
    t = await factories.tenant(rt)
    u = await factories.user(rt, t.account_id)
    r = await sign_in(app_client, u.email, next_url="//evil.example/x")
    assert r.headers["location"] == "/dashboard"


async def test_sign_out_ends_the_session(rt, app_client):
    t = await factories.tenant(rt)
    u = await factories.user(rt, t.account_id)
    await sign_in(app_client, u.email)
    page = await app_client.get("/dashboard/clients")
    assert page.status_code == 200
    r = await app_client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    assert (await app_client.get("/dashboard/clients")).status_code == 303


async def test_dashboard_registers_a_client_for_owners_only(rt, app_client):
    t = await factories.tenant(rt)
    owner = await factories.user(rt, t.account_id, role="owner")
    viewer = await factories.user(rt, t.account_id, role="viewer")
    await sign_in(app_client, viewer.email)
    assert (await app_client.get("/dashboard/clients")).status_code == 403
    app_client.cookies.clear()
    await sign_in(app_client, owner.email)
    page = await app_client.get("/dashboard/clients")
    data = {
        "csrf": csrf_of(page.text),
        "name": "Shop backend",
        "redirect_uris": "https://shop.example/cb\n",
        "scopes": ["cards:read", "cards:write"],
        "grant_types": ["authorization_code", "refresh_token"],
    }
    r = await app_client.post("/dashboard/clients", data=data)
    assert r.status_code == 201
    assert "gws_" in r.text
    assert "shown only once" in r.text
    listed = await app_client.get("/dashboard/clients")
    assert "Shop backend" in listed.text
    assert "gws_" not in listed.text
    bad = await app_client.post("/dashboard/clients", data={**data, "redirect_uris": "http://shop.example/cb"})
    assert bad.status_code == 422


@pytest.fixture
async def https_client(settings, clock):
    from giftwell.app import create_app

    app = create_app(settings, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as client:
        yield client
    await app.state.runtime.close()


async def test_session_cookie_is_secure_over_https(rt, https_client):
    t = await factories.tenant(rt)
    u = await factories.user(rt, t.account_id)
    r = await sign_in(https_client, u.email)
    assert r.status_code == 303
    assert "Secure" in r.headers["set-cookie"]
