"""The RFC 9700 (OAuth 2.0 Security BCP) rules, each shown failing the way it must."""

from __future__ import annotations

import pytest

from giftwell.services.access import oauth
from tests import factories
from tests.oauth_flow import REDIRECT, authorize, code_for, pkce, redirect_params, token, token_form


async def _setup(rt, **client_kw):
    t = await factories.tenant(rt)
    u = await factories.user(rt, t.account_id)
    c = await factories.client(rt, t.account_id, **client_kw)
    return t, u, c


def _creds(c):
    return {"client_id": c.client.client_id, "client_secret": c.client_secret}


async def _exchange(http, c, code, **extra):
    return await token(http, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, **_creds(c), **extra)


async def test_code_reuse_fails_and_revokes_the_tokens_issued_from_it(rt, app_client):
    _, u, c = await _setup(rt)
    code = await code_for(rt, c.client.client_id, u)
    first = await _exchange(app_client, c, code)
    assert first.status_code == 200
    tok = first.json()
    # A refresh in between: the descendants of the code are revoked too, not only its first tokens.
    rotated = (
        await token(app_client, grant_type="refresh_token", refresh_token=tok["refresh_token"], **_creds(c))
    ).json()
    again = await _exchange(app_client, c, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    for access in (tok["access_token"], rotated["access_token"]):
        r = await app_client.get("/v1/clients", headers={"Authorization": f"Bearer {access}"})
        assert r.status_code == 401
    r = await token(app_client, grant_type="refresh_token", refresh_token=rotated["refresh_token"], **_creds(c))
    assert r.json()["error"] == "invalid_grant"


async def test_expired_code(rt, app_client, clock):
    _, u, c = await _setup(rt)
    code = await code_for(rt, c.client.client_id, u)
    clock.advance(seconds=601)
    r = await _exchange(app_client, c, code)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


async def test_code_just_before_expiry_works(rt, app_client, clock):
    _, u, c = await _setup(rt)
    code = await code_for(rt, c.client.client_id, u)
    clock.advance(seconds=599)
    assert (await _exchange(app_client, c, code)).status_code == 200


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://client.example/other",  # different path
        "https://client.example/cb?x=1",  # extra query
        "https://client.example/cb/",  # trailing slash
        "http://client.example/cb",  # different scheme
        "https://evil.example/cb",  # different host
        "https://client.example.evil.example/cb",  # host with the registered one as prefix
        "https://CLIENT.example/cb",  # not even case differences
    ],
)
async def test_redirect_uri_must_match_exactly_and_is_never_followed(rt, redirect_uri):
    _, u, c = await _setup(rt)
    resp = await authorize(rt, c.client.client_id, u, redirect_uri=redirect_uri)
    # Not a redirect: an unregistered URI gets no code and no error either.
    assert resp.status == 400
    assert resp.location is None
    assert resp.body["error"] == "invalid_request"


async def test_redirect_uri_at_token_must_equal_the_one_authorized(rt, app_client):
    _, u, c = await _setup(rt, redirect_uris=(REDIRECT, "https://client.example/cb2"))
    code = await code_for(rt, c.client.client_id, u)
    r = await token(
        app_client,
        grant_type="authorization_code",
        code=code,
        redirect_uri="https://client.example/cb2",
        **_creds(c),
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    # The failed attempt did not burn the code.
    assert (await _exchange(app_client, c, code)).status_code == 200


async def test_several_redirect_uris_need_one_named(rt):
    _, u, c = await _setup(rt, redirect_uris=(REDIRECT, "https://client.example/cb2"))
    resp = await authorize(rt, c.client.client_id, u, redirect_uri=None)
    assert resp.status == 400
    assert resp.location is None


async def test_public_client_without_pkce_is_refused(rt, app_client):
    _, u, c = await _setup(rt, public=True)
    got = redirect_params(await authorize(rt, c.client.client_id, u, state="s1"))
    assert got["error"] == "invalid_request"
    assert got["state"] == "s1"
    assert "code" not in got


async def test_public_client_token_request_without_verifier(rt, app_client):
    _, u, c = await _setup(rt, public=True)
    _, challenge = pkce()
    code = await code_for(rt, c.client.client_id, u, code_challenge=challenge, code_challenge_method="S256")
    r = await token(
        app_client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, client_id=c.client.client_id
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


async def test_wrong_verifier(rt, app_client):
    _, u, c = await _setup(rt, public=True)
    _, challenge = pkce()
    other_verifier, _ = pkce()
    code = await code_for(rt, c.client.client_id, u, code_challenge=challenge, code_challenge_method="S256")
    r = await token(
        app_client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=c.client.client_id,
        code_verifier=other_verifier,
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("method", ["plain", None])
async def test_plain_pkce_is_refused(rt, method):
    _, u, c = await _setup(rt, public=True)
    verifier, _ = pkce()
    got = redirect_params(
        await authorize(rt, c.client.client_id, u, code_challenge=verifier, code_challenge_method=method)
    )
    assert got["error"] == "invalid_request"


async def test_scope_escalation_on_authorize(rt):
    _, u, c = await _setup(rt, scopes=("cards:read",))
    for scope in ("cards:read cards:write", "admin", "no:such"):
        got = redirect_params(await authorize(rt, c.client.client_id, u, scope=scope))
        assert got["error"] == "invalid_scope", scope


async def test_viewer_cannot_delegate_writing(rt):
    t, _, c = await _setup(rt)
    viewer = await factories.user(rt, t.account_id, role="viewer")
    got = redirect_params(await authorize(rt, c.client.client_id, viewer, scope="cards:write"))
    assert got["error"] == "invalid_scope"
    assert "code" in redirect_params(await authorize(rt, c.client.client_id, viewer, scope="cards:read"))


async def test_user_of_another_account_cannot_authorize(rt):
    _, _, c = await _setup(rt)
    other = await factories.tenant(rt)
    stranger = await factories.user(rt, other.account_id)
    assert redirect_params(await authorize(rt, c.client.client_id, stranger))["error"] == "access_denied"


async def test_scope_escalation_on_refresh(rt, app_client):
    _, u, c = await _setup(rt)
    code = await code_for(rt, c.client.client_id, u, scope="cards:read")
    tok = (await _exchange(app_client, c, code)).json()
    r = await token(
        app_client,
        grant_type="refresh_token",
        refresh_token=tok["refresh_token"],
        scope="cards:read cards:write",
        **_creds(c),
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"
    # The refused attempt did not use the refresh token up.
    ok = await token(app_client, grant_type="refresh_token", refresh_token=tok["refresh_token"], **_creds(c))
    assert ok.status_code == 200
    assert ok.json()["scope"] == "cards:read"


async def test_scope_escalation_on_client_credentials(rt, app_client):
    _, _, c = await _setup(rt, scopes=("cards:read",))
    for scope in ("cards:read cards:write", "admin", "orders:write"):
        r = await token(app_client, grant_type="client_credentials", scope=scope, **_creds(c))
        assert (r.status_code, r.json()["error"]) == (400, "invalid_scope"), scope


async def test_another_clients_code(rt, app_client):
    t, u, c = await _setup(rt)
    other = await factories.client(rt, t.account_id, name="Other")
    code = await code_for(rt, c.client.client_id, u)
    r = await _exchange(app_client, other, code)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    # The rightful client can still use it: the thief learnt nothing and burnt nothing.
    assert (await _exchange(app_client, c, code)).status_code == 200


async def test_another_clients_refresh_token(rt, app_client):
    t, u, c = await _setup(rt)
    other = await factories.client(rt, t.account_id, name="Other")
    tok = (await _exchange(app_client, c, await code_for(rt, c.client.client_id, u))).json()
    r = await token(app_client, grant_type="refresh_token", refresh_token=tok["refresh_token"], **_creds(other))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    ok = await token(app_client, grant_type="refresh_token", refresh_token=tok["refresh_token"], **_creds(c))
    assert ok.status_code == 200


@pytest.mark.parametrize("variant", ["wrong_post", "missing", "wrong_basic", "unknown_client", "public_secret"])
async def test_client_authentication_failures_are_401_invalid_client(rt, app_client, variant):
    _, _, c = await _setup(rt)
    body = {"grant_type": "client_credentials"}
    auth = None
    if variant == "wrong_post":
        body |= {"client_id": c.client.client_id, "client_secret": c.client_secret + "x"}
    elif variant == "missing":
        body |= {"client_id": c.client.client_id}
    elif variant == "wrong_basic":
        auth = (c.client.client_id, "gws_wrong")
    elif variant == "unknown_client":
        body |= {"client_id": "cli_nope", "client_secret": c.client_secret}
    else:
        public = await factories.client(rt, c.client.account_id, public=True)
        body |= {"client_id": public.client.client_id, "client_secret": "anything"}
    r = await token_form(app_client, auth=auth, **body)
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "invalid_client"
    assert r.headers["www-authenticate"].startswith("Basic ")


async def test_rotated_secret_replaces_the_old_one(rt, app_client):
    t, _, c = await _setup(rt)
    r = await app_client.post(f"/v1/clients/{c.client.client_id}/rotate-secret", headers=t.headers)
    assert r.status_code == 200, r.text
    new_secret = r.json()["client_secret"]
    old = await token(app_client, grant_type="client_credentials", **_creds(c))
    assert old.status_code == 401
    new = await token(
        app_client, grant_type="client_credentials", client_id=c.client.client_id, client_secret=new_secret
    )
    assert new.status_code == 200


async def test_revoked_client_loses_its_tokens(rt, app_client):
    t, _, c = await _setup(rt)
    tok = (await token(app_client, grant_type="client_credentials", **_creds(c))).json()
    assert (await app_client.delete(f"/v1/clients/{c.client.client_id}", headers=t.headers)).status_code == 200
    r = await app_client.get("/v1/clients", headers={"Authorization": f"Bearer {tok['access_token']}"})
    assert r.status_code == 401
    assert (await token(app_client, grant_type="client_credentials", **_creds(c))).status_code == 401


async def test_unknown_client_at_authorize_is_not_redirected(rt):
    t = await factories.tenant(rt)
    u = await factories.user(rt, t.account_id)
    resp = await oauth.decide_authorization(
        rt,
        oauth.HttpRequest(
            "POST",
            "http://127.0.0.1:8000/oauth/authorize",
            {},
            {"response_type": ["code"], "client_id": ["cli_nope"], "redirect_uri": [REDIRECT]},
        ),
        u,
        approve=True,
    )
    assert resp.status == 400
    assert resp.location is None
    assert resp.body["error"] == "invalid_client"


async def test_denied_consent(rt):
    _, u, c = await _setup(rt)
    got = redirect_params(await authorize(rt, c.client.client_id, u, approve=False, state="abc"))
    assert got["error"] == "access_denied"
    assert got["state"] == "abc"
    assert "code" not in got
