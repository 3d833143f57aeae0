"""OAuth 2.0 conformance: each grant end to end over HTTP, on both databases."""

from __future__ import annotations

import base64

from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from tests import factories
from tests.oauth_flow import REDIRECT, code_for, pkce, token, token_form


async def _setup(rt, **client_kw):
    t = await factories.tenant(rt)
    u = await factories.user(rt, t.account_id)
    c = await factories.client(rt, t.account_id, **client_kw)
    return t, u, c


async def test_authorization_code_with_json_body_as_the_seed(rt, app_client):
    _, u, c = await _setup(rt)
    code = await code_for(rt, c.client.client_id, u, scope="cards:read account:read")
    r = await token(
        app_client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=c.client.client_id,
        client_secret=c.client_secret,
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token_expires_in"] == 2592000
    assert body["scope"] == "cards:read account:read"
    assert body["access_token"].startswith("gwa_")
    assert body["refresh_token"].startswith("gwr_")
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    listed = await app_client.get("/v1/clients", headers=auth)
    assert listed.status_code == 200, listed.text
    assert [x["client_id"] for x in listed.json()["data"]] == [c.client.client_id]
    # The token carries only what was granted.
    denied = await app_client.post("/v1/cards", json={"currency": "EUR", "amount": 100}, headers=auth)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "insufficient_scope"


async def test_authorization_code_with_form_and_basic_auth(rt, app_client):
    _, u, c = await _setup(rt)
    code = await code_for(rt, c.client.client_id, u)
    r = await token_form(
        app_client,
        auth=(c.client.client_id, c.client_secret),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
    )
    assert r.status_code == 200, r.text
    # Scope omitted on authorize: the client's registered scopes.
    assert r.json()["scope"] == "cards:read cards:write account:read"


async def test_public_client_with_pkce(rt, app_client):
    _, u, c = await _setup(rt, public=True)
    assert c.client_secret is None
    verifier, challenge = pkce()
    code = await code_for(rt, c.client.client_id, u, code_challenge=challenge, code_challenge_method="S256")
    r = await token(
        app_client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=c.client.client_id,
        code_verifier=verifier,
    )
    assert r.status_code == 200, r.text
    assert "refresh_token" in r.json()


async def test_confidential_client_may_add_pkce(rt, app_client):
    _, u, c = await _setup(rt)
    verifier, challenge = pkce()
    code = await code_for(rt, c.client.client_id, u, code_challenge=challenge, code_challenge_method="S256")
    common = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": c.client.client_id,
        "client_secret": c.client_secret,
    }
    missing = await token(app_client, **common)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    r = await token(app_client, **common, code_verifier=verifier)
    assert r.status_code == 200, r.text


async def test_refresh_rotates_and_old_token_dies_at_once(rt, app_client):
    _, u, c = await _setup(rt)
    code = await code_for(rt, c.client.client_id, u)
    creds = {"client_id": c.client.client_id, "client_secret": c.client_secret}
    first = (await token(app_client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, **creds)).json()
    r = await token(app_client, grant_type="refresh_token", refresh_token=first["refresh_token"], **creds)
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["refresh_token_expires_in"] == 2592000
    assert second["expires_in"] == 3600
    assert second["scope"] == first["scope"]
    # Narrowing on refresh is allowed; the access token gets the narrower scope.
    r = await token(
        app_client, grant_type="refresh_token", refresh_token=second["refresh_token"], scope="cards:read", **creds
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "cards:read"
    # The first refresh token was used: presenting it again is a replay.
    replay = await token(app_client, grant_type="refresh_token", refresh_token=first["refresh_token"], **creds)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


async def test_client_credentials(rt, app_client):
    t, _, c = await _setup(rt)
    r = await token(
        app_client,
        grant_type="client_credentials",
        client_id=c.client.client_id,
        client_secret=c.client_secret,
        scope="cards:read",
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "refresh_token" not in body
    assert body["expires_in"] == 3600
    assert body["scope"] == "cards:read"
    card = await factories.card(rt, t.account_id)
    got = await app_client.get(f"/v1/cards/{card.card.id}", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert got.status_code == 200, got.text


async def test_access_token_expires_after_its_lifetime(rt, app_client, clock):
    _, _, c = await _setup(rt)
    body = (
        await token(
            app_client, grant_type="client_credentials", client_id=c.client.client_id, client_secret=c.client_secret
        )
    ).json()
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await app_client.get("/v1/clients", headers=auth)).status_code == 200
    clock.advance(seconds=3601)
    r = await app_client.get("/v1/clients", headers=auth)
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_revocation(rt, app_client):
    _, u, c = await _setup(rt)
    creds = {"client_id": c.client.client_id, "client_secret": c.client_secret}
    code = await code_for(rt, c.client.client_id, u)
    tok = (await token(app_client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, **creds)).json()
    auth = {"Authorization": f"Bearer {tok['access_token']}"}
    # An unknown token: 200 all the same (RFC 7009 section 2.2).
    assert (await app_client.post("/oauth/revoke", data={"token": "nope", **creds})).status_code == 200
    # Revoking the refresh token revokes its grant: the access token too.
    r = await app_client.post(
        "/oauth/revoke", data={"token": tok["refresh_token"], "token_type_hint": "refresh_token", **creds}
    )
    assert r.status_code == 200, r.text
    assert (await app_client.get("/v1/clients", headers=auth)).status_code == 401
    again = await token(app_client, grant_type="refresh_token", refresh_token=tok["refresh_token"], **creds)
    assert again.json()["error"] == "invalid_grant"


async def test_revoking_an_access_token_over_basic_auth(rt, app_client):
    _, _, c = await _setup(rt)
    tok = (
        await token(
            app_client, grant_type="client_credentials", client_id=c.client.client_id, client_secret=c.client_secret
        )
    ).json()
    basic = base64.b64encode(f"{c.client.client_id}:{c.client_secret}".encode()).decode()
    r = await app_client.post(
        "/oauth/revoke", data={"token": tok["access_token"]}, headers={"Authorization": f"Basic {basic}"}
    )
    assert r.status_code == 200, r.text
    assert (
        await app_client.get("/v1/clients", headers={"Authorization": f"Bearer {tok['access_token']}"})
    ).status_code == 401


async def test_metadata_document(app_client):
    r = await app_client.get("/.well-known/oauth-authorization-server")
    assert r.status_code == 200
    doc = r.json()
    AuthorizationServerMetadata(doc).validate()
    assert doc["issuer"] == "http://127.0.0.1:8000"
    assert doc["token_endpoint"] == "http://127.0.0.1:8000/oauth/token"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "admin" not in doc["scopes_supported"]
    assert "orders:write" in doc["scopes_supported"]


async def test_unsupported_grant_type_and_bad_bodies(rt, app_client):
    _, _, c = await _setup(rt)
    r = await token(app_client, grant_type="password", client_id=c.client.client_id, client_secret=c.client_secret)
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"
    # No grant_type at all is a missing parameter (RFC 6749 section 5.2), not an unknown grant.
    for body in ({}, {"grant_type": ""}, {"client_id": c.client.client_id, "client_secret": c.client_secret}):
        r = await token(app_client, **body)
        assert r.status_code == 400
        assert r.json() == {"error": "invalid_request", "error_description": "Missing grant_type parameter."}
    r = await app_client.post("/oauth/token", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    r = await app_client.post("/oauth/token", content=b"x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    r = await app_client.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


async def test_no_token_or_secret_reaches_the_logs(rt, app_client, caplog):
    _, u, c = await _setup(rt)
    caplog.set_level("DEBUG")
    code = await code_for(rt, c.client.client_id, u)
    r = await token(
        app_client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=c.client.client_id,
        client_secret=c.client_secret,
    )
    body = r.json()
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    for secret in (code, c.client_secret, body["access_token"], body["refresh_token"]):
        assert secret not in logged
