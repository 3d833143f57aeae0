"""Helpers for OAuth tests: PKCE pairs, authorization through the service (as the consent page
would, without a browser), and token requests over HTTP."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from giftwell.services.access import oauth
from giftwell.services.access.users import UserInfo
from giftwell.services.runtime import Runtime
from tests import factories

REDIRECT = "https://client.example/cb"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def authorize_request(client_id: str, **params: str | None) -> oauth.HttpRequest:
    base: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": "st-" + secrets.token_hex(4),
    }
    base.update(params)
    data = {k: [v] for k, v in base.items() if v is not None}
    return oauth.HttpRequest("POST", "http://127.0.0.1:8000/oauth/authorize", {}, data)


async def authorize(
    rt: Runtime, client_id: str, user: UserInfo, *, approve: bool = True, **params: str | None
) -> oauth.HttpResponse:
    return await oauth.decide_authorization(rt, authorize_request(client_id, **params), user, approve=approve)


def redirect_params(resp: oauth.HttpResponse) -> dict[str, str]:
    assert resp.status == 302, resp
    assert resp.location is not None
    return {k: v[0] for k, v in parse_qs(urlsplit(resp.location).query).items()}


async def code_for(rt: Runtime, client_id: str, user: UserInfo, **params: str | None) -> str:
    got = redirect_params(await authorize(rt, client_id, user, **params))
    assert "code" in got, got
    return got["code"]


async def token(http: httpx.AsyncClient, **body: Any) -> httpx.Response:
    """POST /oauth/token with a JSON body, as the WizzGift seed does."""
    return await http.post("/oauth/token", json={k: v for k, v in body.items() if v is not None})


async def token_form(http: httpx.AsyncClient, auth: tuple[str, str] | None = None, **body: Any) -> httpx.Response:
    return await http.post("/oauth/token", data={k: v for k, v in body.items() if v is not None}, auth=auth)


SEED_SCOPES = ("createOrder", "viewOrder", "viewProducts", "account")


async def wizz_client(rt: Runtime, account_id: str, *, scopes: tuple[str, ...] = SEED_SCOPES, **kw: Any):
    """An OAuth client registered for WizzGift use (its scopes named the seed's way)."""
    kw.setdefault("name", "WizzGift client")
    return await factories.client(rt, account_id, scopes=scopes, **kw)


async def seed_tokens(http: httpx.AsyncClient, rt: Runtime, account_id: str, **client_kw: Any) -> dict[str, Any]:
    """A user of the account authorizes a WizzGift client and the code is exchanged at
    /api/b2b/oauth/token (of `http`'s base URL) with the seed's JSON body. Returns the token
    response plus the client."""
    c = await wizz_client(rt, account_id, **client_kw)
    user = await factories.user(rt, account_id)
    code = await code_for(rt, c.client.client_id, user, scope=" ".join(c.client.scopes))
    r = await http.post(
        "/api/b2b/oauth/token",
        json={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": c.client.client_id,
            "client_secret": c.client_secret,
            "redirect_uri": REDIRECT,
        },
    )
    assert r.status_code == 200, r.text
    return {**r.json(), "client": c}
