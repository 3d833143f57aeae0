"""Token checks answered from the process's cache (services/access/tokens.check_token), on both
databases: a revocation takes effect at once in the process that made it and within
`token_cache_seconds` in every other process (real `giftwell serve` processes; two sharing the
database on PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from giftwell.app import build_runtime
from giftwell.domain.errors import Unauthenticated
from giftwell.services.access import tokens
from giftwell.services.runtime import Runtime
from giftwell.settings import load_settings
from giftwell.store.models import AccessToken
from tests import factories
from tests.servers import cli, giftwell_env, start_servers, stop_servers, wait_healthy

SECRET = "token-cache-test-secret-0123456789-abcdefghij"
BOUND = 1.0  # the default token_cache_seconds


async def test_cached_until_revoked_here_then_refused_at_once(rt: Runtime) -> None:
    t = await factories.tenant(rt)
    first = await tokens.check_token(rt, t.token)
    # Cached: a change made behind the process's back (another process) is not seen yet ...
    async with rt.uow() as uow:
        await uow.conn.execute(sa.update(AccessToken).values(scopes="cards:read"))
        await uow.commit()
    assert await tokens.check_token(rt, t.token) == first
    # ... but a revocation made by this process takes effect at once.
    async with rt.uow() as uow:
        await tokens.revoke_token(uow, account_id=t.account_id, token_id=first.token_id)
        await uow.commit()
    with pytest.raises(Unauthenticated):
        await tokens.check_token(rt, t.token)


async def test_unknown_tokens_are_never_cached(rt: Runtime) -> None:
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await tokens.check_token(rt, "gw_" + "x" * 43)
    assert not rt.token_cache._entries


def until(pred: Callable[[], bool], seconds: float) -> float:
    """Seconds until `pred()` held (polling), or fail after `seconds`."""
    start = time.monotonic()
    while not pred():
        assert time.monotonic() - start < seconds, f"still not true after {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.mark.slow
async def test_revoked_in_another_process_refused_within_the_bound(db_url: str, tmp_path: Path) -> None:
    env = giftwell_env(db_url, tmp_path / "var", SECRET)
    servers = start_servers(env, 1 if db_url.startswith("sqlite") else 2, tmp_path, wait=False)
    try:
        _, acct = cli(env, "accounts", "create", "shop")
        _, tok = cli(env, "tokens", "create", "--account", "shop", "--scope", "cards:read")
        wait_healthy(servers)
        headers = {"Authorization": f"Bearer {tok['token']}"}
        clients = [httpx.Client(base_url=s.url, headers=headers, timeout=10) for s in servers]
        for c in clients:  # every server has the token in its cache now
            assert c.get("/v1/ping").status_code == 200
        rt = build_runtime(load_settings(database_url=db_url, data_dir=tmp_path / "var", secret_key=SECRET))
        try:
            async with rt.uow() as uow:
                await tokens.revoke_token(uow, account_id=acct["id"], token_id=tok["id"])
                await uow.commit()
        finally:
            await rt.close()
        revoked_at = time.monotonic()
        for c in clients:
            until(lambda c=c: c.get("/v1/ping").status_code == 401, BOUND + 2.0)
        # Within the documented bound (plus the time a request takes on a loaded machine).
        assert time.monotonic() - revoked_at < BOUND + 2.0
        for c in clients:
            assert c.get("/v1/ping").status_code == 401
            c.close()
    finally:
        stop_servers(servers)
