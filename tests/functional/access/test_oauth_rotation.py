"""Refresh-token rotation at length, replay detection, and racing refreshes, on both databases."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from giftwell.store.models import AccessToken, RefreshToken
from tests import factories
from tests.oauth_flow import REDIRECT, code_for, token

ROTATIONS = 1000


async def _grant(rt, app_client):
    t = await factories.tenant(rt)
    u = await factories.user(rt, t.account_id)
    c = await factories.client(rt, t.account_id)
    creds = {"client_id": c.client.client_id, "client_secret": c.client_secret}
    code = await code_for(rt, c.client.client_id, u)
    r = await token(app_client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, **creds)
    assert r.status_code == 200, r.text
    return creds, r.json()


async def _live_refresh_tokens(rt) -> int:
    async with rt.uow() as uow:
        return (
            await uow.conn.execute(
                sa.select(sa.func.count())
                .select_from(RefreshToken)
                .where(RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
            )
        ).scalar_one()


async def test_a_thousand_rotations_then_a_replay_revokes_the_family(rt, app_client):
    creds, tok = await _grant(rt, app_client)
    seen = {tok["refresh_token"]}
    old = tok["refresh_token"]
    for _ in range(ROTATIONS):
        r = await token(app_client, grant_type="refresh_token", refresh_token=tok["refresh_token"], **creds)
        assert r.status_code == 200, r.text
        tok = r.json()
        assert tok["refresh_token"] not in seen
        seen.add(tok["refresh_token"])
    assert await _live_refresh_tokens(rt) == 1
    newest_auth = {"Authorization": f"Bearer {tok['access_token']}"}
    assert (await app_client.get("/v1/clients", headers=newest_auth)).status_code == 200

    replay = await token(app_client, grant_type="refresh_token", refresh_token=old, **creds)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # The whole family is dead: the newest refresh token and the newest access token too.
    assert (await app_client.get("/v1/clients", headers=newest_auth)).status_code == 401
    r = await token(app_client, grant_type="refresh_token", refresh_token=tok["refresh_token"], **creds)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    assert await _live_refresh_tokens(rt) == 0
    async with rt.uow() as uow:
        live_access = (
            await uow.conn.execute(
                sa.select(sa.func.count())
                .select_from(AccessToken)
                .where(AccessToken.kind == "oauth", AccessToken.revoked_at.is_(None))
            )
        ).scalar_one()
    assert live_access == 0


async def test_concurrent_refreshes_never_leave_two_live_refresh_tokens(rt, app_client):
    for _ in range(3):
        creds, tok = await _grant(rt, app_client)
        results = await asyncio.gather(
            *[
                token(app_client, grant_type="refresh_token", refresh_token=tok["refresh_token"], **creds)
                for _ in range(2)
            ]
        )
        statuses = sorted(r.status_code for r in results)
        assert statuses in ([200, 400], [400, 400]), [r.text for r in results]
        assert all(r.json()["error"] == "invalid_grant" for r in results if r.status_code == 400)
        # The loser saw a used token: a replay, so the family (the winner's new tokens too) is
        # revoked. Never two live refresh tokens; here, none.
        assert await _live_refresh_tokens(rt) <= 1
        for r in results:
            if r.status_code == 200:
                again = await token(
                    app_client, grant_type="refresh_token", refresh_token=r.json()["refresh_token"], **creds
                )
                assert again.status_code == 400
