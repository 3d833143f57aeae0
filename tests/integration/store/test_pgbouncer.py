"""Giftwell through PgBouncer 1.18 in transaction mode (`GIFTWELL_DATABASE_PGBOUNCER=1`): two API
processes (`serve --workers 2`), two `giftwell worker` processes and this test's own runtime all
reach PostgreSQL through three server connections. Orders (synchronous and fulfilled in the
background), concurrent redemptions on the one-statement path, token checks and the liability
report all work, nothing is done twice, and no session setting is left on a server connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa

from giftwell.app import build_runtime
from giftwell.jobs.handlers import testing
from giftwell.services.reports import liability
from giftwell.settings import load_settings
from giftwell.store.engine import PGBOUNCER_CONNECT_ARGS
from tests import factories, pgbouncer
from tests.cluster_load import (
    FACE,
    SPEND,
    assert_balances,
    assert_each_job_once,
    cards_of,
    issuer,
    place_orders,
    redeem_all,
    wait_completed,
)
from tests.conftest import TEST_SECRET
from tests.integration.orders.test_order_crash_recovery import START, assert_issued_once_and_charged_once, ledger_verify
from tests.pg import PgServer
from tests.servers import cli, giftwell_env, start_servers, stop_servers
from tests.workers import start_worker, stop

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)]

SERVER_CONNECTIONS = 3


@pytest.fixture(scope="module")
def bouncer(pg_server: PgServer) -> Iterator[pgbouncer.Bouncer]:
    b = pgbouncer.start(pg_server, server_pool=SERVER_CONNECTIONS)
    try:
        yield b
    finally:
        b.stop()


def _through(bouncer: pgbouncer.Bouncer, db_url: str) -> str:
    return bouncer.url(db_url.rsplit("/", 1)[1])


async def test_the_bouncer_lends_server_connections_so_named_statements_go_missing(bouncer, db_url) -> None:
    """What the setting is for: with asyncpg's defaults, a statement prepared by name on one
    server connection is missing when the client is next lent another; with the setting's
    arguments the same sequence works."""
    url = _through(bouncer, db_url)

    async def sequence(**args: int) -> None:
        a, other = await asyncpg.connect(url, **args), await asyncpg.connect(url, **args)
        try:
            assert await a.fetchval("SELECT $1::int", 1) == 1  # prepared on the server connection S
            tx = other.transaction()
            await tx.start()  # S (the most recently used) is now lent to `other` until it ends
            try:
                assert await other.fetchval("SELECT 1") == 1
                assert await a.fetchval("SELECT $1::int", 2) == 2  # on another server connection
            finally:
                await tx.rollback()
        finally:
            await a.close()
            await other.close()

    with pytest.raises(asyncpg.InvalidSQLStatementNameError):
        await sequence()
    await sequence(statement_cache_size=PGBOUNCER_CONNECT_ARGS["statement_cache_size"])


async def test_orders_redemptions_and_workers_through_pgbouncer(
    bouncer, db_url, settings, tmp_path: Path, monkeypatch
) -> None:
    url = _through(bouncer, db_url)
    monkeypatch.setenv("GIFTWELL_DATABASE_PGBOUNCER", "1")
    via = load_settings(
        database_url=url, database_pgbouncer=True, data_dir=settings.data_dir, secret_key=TEST_SECRET, db_pool_size=5
    )
    rt = build_runtime(via)
    await testing.install(rt)
    try:
        buyer = await factories.buyer(rt, funds=START)
        env = giftwell_env(url, via.data_dir, TEST_SECRET, GIFTWELL_DATABASE_PGBOUNCER="1", GIFTWELL_DB_POOL_SIZE="10")
        (server,) = start_servers(env, 1, tmp_path, extra_args=("--workers", "2"))
        workers = [start_worker(via, tmp_path, f"w{i}", concurrency=2) for i in range(2)]
        try:
            sizes, sync_ids = await place_orders(
                [server.url], buyer, sync_orders=6, async_orders=3, async_size=40, prefix="bouncer"
            )
            card_ids = await cards_of(rt, sync_ids)
            await redeem_all([server.url], await issuer(rt), card_ids)
            await wait_completed(rt, len(sizes), workers)
        finally:
            codes = [stop(w) for w in workers]
            stop_servers([server])
        assert codes == [0, 0]
        assert "Traceback" not in server.log(200_000), server.log()
        await assert_issued_once_and_charged_once(rt, buyer, sizes)
        await assert_each_job_once(rt)
        await assert_balances(rt, card_ids, FACE - (FACE // SPEND) * SPEND)

        # The report raises work_mem for its query only: no server connection keeps it.
        async with rt.reader() as uow:
            found = await liability.liability(uow, account_id=(await issuer(rt)).account_id, as_of=None)
        assert sum(o.amount for o in found.data) > 0
        for _ in range(SERVER_CONNECTIONS * 2):
            async with rt.reader() as uow:
                assert await uow.conn.scalar(sa.text("SHOW work_mem")) == "4MB"
    finally:
        await rt.close()
    ledger_verify(settings)


async def test_bulk_issue_copies_through_pgbouncer(bouncer, db_url, settings, tmp_path: Path) -> None:
    """`cards issue-bulk` sends COPY on the batch transaction's connection: transaction mode keeps
    it on one server connection."""
    env = giftwell_env(_through(bouncer, db_url), settings.data_dir, TEST_SECRET, GIFTWELL_DATABASE_PGBOUNCER="1")
    cli(env, "accounts", "create", "ops", "--operator")
    out = tmp_path / "codes.csv"
    args = ["--count", "3000", "--amount", "2500", "--currency", "EUR", "--batch-size", "1000", "--out", str(out)]
    _, done = cli(env, "cards", "issue-bulk", *args)
    assert (done["issued"], done["finished"]) == (3000, True)
    conn = await asyncpg.connect(db_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM cards") == 3000
    finally:
        await conn.close()
    ledger_verify(settings)
