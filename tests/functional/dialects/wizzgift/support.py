"""Helpers of the WizzGift dialect tests: the seed's examples, a JSON-type comparison, and
tokens obtained through the dialect's own OAuth endpoint."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from giftwell.services.runtime import Runtime
from tests import factories
from tests.oauth_flow import REDIRECT, code_for

B2B = "/api/b2b"
SEED_SCOPES = ("createOrder", "viewOrder", "viewProducts", "account")


def json_type(value: Any) -> str:
    """The JSON type a value has once parsed: numbers are one type, whatever their digits."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def assert_same_shape(ours: Any, seed: Any, where: str = "$") -> None:
    """Every member of the seed's example is in ours with the same JSON type, recursively (the
    first element of the seed's arrays against each of ours)."""
    assert json_type(ours) == json_type(seed), f"{where}: {json_type(ours)} {ours!r}, the seed has {seed!r}"
    if isinstance(seed, dict):
        missing = set(seed) - set(ours)
        assert not missing, f"{where}: missing {sorted(missing)}"
        for k, v in seed.items():
            assert_same_shape(ours[k], v, f"{where}.{k}")
    elif isinstance(seed, list) and seed:
        for i, item in enumerate(ours):
            assert_same_shape(item, seed[0], f"{where}[{i}]")


async def wizz_client(rt: Runtime, account_id: str, *, scopes: tuple[str, ...] = SEED_SCOPES, **kw: Any):
    """An OAuth client registered for WizzGift use (its scopes named the seed's way)."""
    return await factories.client(rt, account_id, scopes=scopes, name="WizzGift client", **kw)


async def seed_tokens(http: httpx.AsyncClient, rt: Runtime, account_id: str, **client_kw: Any) -> dict[str, Any]:
    """A user of the account authorizes a WizzGift client and the code is exchanged at
    /api/b2b/oauth/token with the seed's JSON body. Returns the token response plus the client."""
    c = await wizz_client(rt, account_id, **client_kw)
    user = await factories.user(rt, account_id)
    code = await code_for(rt, c.client.client_id, user, scope=" ".join(c.client.scopes))
    r = await http.post(
        f"{B2B}/oauth/token",
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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
