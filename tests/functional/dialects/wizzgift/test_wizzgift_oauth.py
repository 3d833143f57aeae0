"""OAuth on /api/b2b: the seed's token bodies (JSON and form requests), WizzGift's scope names
wherever scopes are given, rotation with reuse revoking the family, and the seed's error
envelope. Both databases."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from typer.testing import CliRunner

from giftwell.cli.main import app as cli
from giftwell.store.models import OAuthClient, OAuthCode
from tests import factories
from tests.conftest import TEST_SECRET
from tests.functional.dialects.wizzgift.support import B2B, bearer, seed_tokens, wizz_client
from tests.functional.limits_helpers import client
from tests.functional.web.test_web_pages import csrf_of, sign_in
from tests.oauth_flow import REDIRECT, code_for, pkce

CODE_EXCHANGE = ["access_token", "refresh_token", "token_type", "expires_in", "scope"]
REFRESH = ["access_token", "refresh_token", "token_type", "expires_in", "refresh_token_expires_in", "scope"]


async def test_code_exchange_and_refresh_answer_the_seeds_bodies(rt, app_client):
    t = await factories.tenant(rt)
    tok = await seed_tokens(app_client, rt, t.account_id)
    c = tok.pop("client")
    assert list(tok) == CODE_EXCHANGE
    assert (tok["token_type"], tok["expires_in"]) == ("Bearer", 3600)
    assert tok["scope"] == "createOrder viewOrder viewProducts account"
    assert all(isinstance(tok[k], str) for k in ("access_token", "refresh_token"))

    creds = {"client_id": c.client.client_id, "client_secret": c.client_secret}
    r = await app_client.post(
        f"{B2B}/oauth/token", json={"grant_type": "refresh_token", "refresh_token": tok["refresh_token"], **creds}
    )
    assert r.status_code == 200, r.text
    refreshed = r.json()
    assert list(refreshed) == REFRESH
    assert refreshed["refresh_token_expires_in"] == 2592000
    assert refreshed["scope"] == "createOrder viewOrder viewProducts account"
    assert refreshed["refresh_token"] != tok["refresh_token"]
    assert r.headers["cache-control"] == "no-store"
    # The access tokens work on the dialect, as on the native API.
    assert (await app_client.get(f"{B2B}/products", headers=bearer(refreshed["access_token"]))).status_code == 200
    assert (await app_client.get("/v1/orders", headers=bearer(refreshed["access_token"]))).status_code == 200

    # Reuse of the rotated-out refresh token: the seed's envelope, and the whole family dies.
    replay = await app_client.post(
        f"{B2B}/oauth/token", json={"grant_type": "refresh_token", "refresh_token": tok["refresh_token"], **creds}
    )
    assert replay.status_code == 400
    assert replay.json() == {"success": False, "message": replay.json()["message"], "error": "invalid_grant"}
    r = await app_client.get(f"{B2B}/products", headers=bearer(refreshed["access_token"]))
    assert r.status_code == 401
    assert r.json() == {"success": False, "message": "Invalid or missing access token."}


async def test_form_bodies_narrowed_refreshes_and_client_credentials(rt, app_client):
    t = await factories.tenant(rt)
    c = await wizz_client(rt, t.account_id, grant_types=("authorization_code", "client_credentials"))
    assert "refresh_token" in c.client.grant_types  # registered for WizzGift use
    user = await factories.user(rt, t.account_id)
    code = await code_for(rt, c.client.client_id, user, scope="account createOrder")
    creds = {"client_id": c.client.client_id, "client_secret": c.client_secret}
    r = await app_client.post(
        f"{B2B}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **creds},
    )
    assert r.status_code == 200, r.text
    assert list(r.json()) == CODE_EXCHANGE
    assert r.json()["scope"] == "account createOrder"
    async with rt.uow() as uow:
        stored = (await uow.conn.execute(sa.select(OAuthCode.scope))).scalar_one()
    assert stored == "account:read orders:write"

    narrowed = await app_client.post(
        f"{B2B}/oauth/token",
        json={"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"], "scope": "account", **creds},
    )
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "account"
    # A refresh may narrow, never widen (viewOrder was not granted).
    wider = await app_client.post(
        f"{B2B}/oauth/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": narrowed.json()["refresh_token"],
            "scope": "viewOrder",
            **creds,
        },
    )
    assert (wider.status_code, wider.json()["error"]) == (400, "invalid_scope")
    anonymous = await app_client.post(
        f"{B2B}/oauth/token", json={"grant_type": "refresh_token", "refresh_token": narrowed.json()["refresh_token"]}
    )
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "invalid_client")

    cc = await app_client.post(f"{B2B}/oauth/token", json={"grant_type": "client_credentials", **creds})
    assert cc.status_code == 200, cc.text
    assert list(cc.json()) == ["access_token", "token_type", "expires_in", "scope"]
    assert cc.json()["scope"] == "createOrder viewOrder viewProducts account"


async def test_token_endpoint_errors_are_the_seeds_envelope(rt, app_client, make_app):
    t = await factories.tenant(rt)
    c = await wizz_client(rt, t.account_id)
    bad_secret = await app_client.post(
        f"{B2B}/oauth/token",
        json={"grant_type": "client_credentials", "client_id": c.client.client_id, "client_secret": "gws_wrong"},
    )
    assert bad_secret.status_code == 401
    assert set(bad_secret.json()) == {"success", "message", "error"}
    assert bad_secret.json()["success"] is False
    assert bad_secret.json()["error"] == "invalid_client"
    for body, content_type in [(b"{not json", "application/json"), (b"[1]", "application/json"), (b"x", "text/plain")]:
        r = await app_client.post(f"{B2B}/oauth/token", content=body, headers={"content-type": content_type})
        assert r.status_code == 400, r.text
        assert r.json()["success"] is False
        assert r.json()["error"] == "invalid_request"
    missing = await app_client.post(f"{B2B}/oauth/token", json={"client_id": c.client.client_id})
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")

    limited = make_app(rate_limit_per_ip="2/minute")
    async with client(limited) as http:
        statuses = [(await http.post(f"{B2B}/oauth/token", json={})).status_code for _ in range(3)]
        r = await http.post(f"{B2B}/oauth/token", json={})
    assert statuses == [400, 400, 429]
    assert r.status_code == 429
    assert r.json() == {"success": False, "message": "Too many requests; retry later."}
    assert int(r.headers["retry-after"]) >= 1


async def test_authorize_is_the_same_sign_in_and_consent(rt, app_client):
    t = await factories.tenant(rt)
    owner = await factories.user(rt, t.account_id, email="owner@wizz.example")
    c = await wizz_client(rt, t.account_id)
    query = f"response_type=code&client_id={c.client.client_id}&redirect_uri={REDIRECT}&scope=createOrder%20viewOrder&state=s1"
    r = await app_client.get(f"{B2B}/oauth/authorize?{query}")
    assert r.status_code == 302
    assert r.headers["location"] == f"/oauth/authorize?{query}"
    await sign_in(app_client, owner.email, next_url=r.headers["location"])
    consent = await app_client.get(r.headers["location"])
    assert consent.status_code == 200
    # The scopes by the names the client asked with, beside the native ones they stand for.
    assert '<code>createOrder</code> <span class="small">(Giftwell\'s <code>orders:write</code>)</span>' in consent.text
    assert "<code>viewOrder</code>" in consent.text
    assert "Place and cancel orders" in consent.text
    native_query = query.replace("createOrder%20viewOrder", "orders:write")
    native = await app_client.get(f"/oauth/authorize?{native_query}")
    assert "<code>orders:write</code></li>" in native.text
    assert "createOrder" not in native.text
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', consent.text))
    assert form["scope"] == "orders:write orders:read"
    done = await app_client.post("/oauth/authorize", data={**form, "decision": "approve"})
    got = parse_qs(urlsplit(done.headers["location"]).query)
    assert got["state"] == ["s1"]
    r = await app_client.post(
        f"{B2B}/oauth/token",
        json={
            "grant_type": "authorization_code",
            "code": got["code"][0],
            "client_id": c.client.client_id,
            "client_secret": c.client_secret,
            "redirect_uri": REDIRECT,
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "createOrder viewOrder"


async def test_wizzgift_scope_names_register_clients_in_the_api_cli_and_dashboard(
    rt, app_client, tmp_path, monkeypatch
):
    t = await factories.tenant(rt)
    body = {
        "name": "Wizz",
        "redirect_uris": [REDIRECT],
        "scopes": ["createOrder", "viewProducts"],
        "grant_types": ["authorization_code"],
    }
    r = await app_client.post("/v1/clients", json=body, headers=t.headers)
    assert r.status_code == 201, r.text
    assert r.json()["scopes"] == ["orders:write", "products:read"]
    assert r.json()["grant_types"] == ["authorization_code", "refresh_token"]
    bad = await app_client.post("/v1/clients", json={**body, "scopes": ["createorder"]}, headers=t.headers)
    assert bad.status_code == 422

    owner = await factories.user(rt, t.account_id)
    await sign_in(app_client, owner.email)
    page = await app_client.get("/dashboard/clients")
    assert 'value="createOrder"' in page.text
    form = {
        "csrf": csrf_of(page.text),
        "name": "Dashboard wizz",
        "redirect_uris": REDIRECT,
        "scopes": ["viewOrder", "account"],
        "grant_types": ["authorization_code"],
    }
    assert (await app_client.post("/dashboard/clients", data=form)).status_code == 201
    async with rt.uow() as uow:
        row = (await uow.conn.execute(sa.select(OAuthClient).where(OAuthClient.name == "Dashboard wizz"))).one()
    assert (row.scopes, row.grant_types) == ("orders:read account:read", "authorization_code refresh_token")


def test_wizzgift_scope_names_in_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("GIFTWELL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GIFTWELL_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("GIFTWELL_SECRET_KEY", TEST_SECRET)
    runner = CliRunner()
    assert runner.invoke(cli, ["accounts", "create", "wizz", "--json"]).exit_code == 0
    args = ["clients", "create", "--account", "wizz", "--name", "B", "--redirect-uri", REDIRECT]
    made = runner.invoke(
        cli, [*args, "--scope", "createOrder", "--scope", "account", "--grant", "authorization_code", "--json"]
    )
    assert made.exit_code == 0, made.output
    out = json.loads(made.stdout)
    assert (out["scopes"], out["grant_types"]) == (
        ["orders:write", "account:read"],
        ["authorization_code", "refresh_token"],
    )


async def test_pkce_is_optional_for_a_confidential_client_and_checked_when_used(rt, app_client):
    t = await factories.tenant(rt)
    c = await wizz_client(rt, t.account_id)
    user = await factories.user(rt, t.account_id)
    creds = {"client_id": c.client.client_id, "client_secret": c.client_secret, "redirect_uri": REDIRECT}
    exchange = {"grant_type": "authorization_code", **creds}
    # Without PKCE: the seed's flow.
    plain = await code_for(rt, c.client.client_id, user, scope="createOrder")
    r = await app_client.post(f"{B2B}/oauth/token", json={**exchange, "code": plain})
    assert r.status_code == 200, r.text
    # With PKCE (S256): the verifier is required and checked.
    verifier, challenge = pkce()
    for given, status, error in (
        ("wrong-" + verifier[6:], 400, "invalid_grant"),
        (None, 400, "invalid_request"),
        (verifier, 200, None),
    ):
        code = await code_for(
            rt, c.client.client_id, user, scope="createOrder", code_challenge=challenge, code_challenge_method="S256"
        )
        body = {**exchange, "code": code, **({"code_verifier": given} if given else {})}
        r = await app_client.post(f"{B2B}/oauth/token", json=body)
        assert r.status_code == status, (given, r.text)
        if status == 400:
            assert (r.json()["success"], r.json()["error"]) == (False, error)
    assert r.json()["scope"] == "createOrder"
