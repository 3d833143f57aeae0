"""`giftwell serve --workers N` on PostgreSQL: N API processes on one port beside `giftwell worker`
processes, all on one database, under a load of orders and redemptions. Nothing is done twice:
each background order's job runs once, each card is issued once and paid once, each card gives
exactly what it holds, the funding account moves by exactly the cards' price, and `giftwell ledger
verify` passes. `/metrics` (multiprocess mode) counts every process's redemptions. On SQLite,
`--workers` above 1 is refused."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests import factories
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
from tests.pg import free_port
from tests.servers import giftwell_env, start_servers, stop_servers, wait_healthy
from tests.workers import start_worker, stop

pytestmark = pytest.mark.slow

LEASE = 4.0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--workers", "2"), "--workers 2: the embedded SQLite database is served by one process"),
        (("--server", "granian"), "--server granian: the embedded SQLite database is served by uvicorn"),
    ],
)
def test_several_processes_are_refused_on_sqlite(tmp_path: Path, args: tuple[str, ...], said: str) -> None:
    env = giftwell_env("", tmp_path / "var", TEST_SECRET)
    env.pop("GIFTWELL_DATABASE_URL")
    proc = subprocess.run(
        [sys.executable, "-m", "giftwell", "serve", "--port", str(free_port()), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert said in proc.stderr


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_api_processes_and_workers_on_one_database_do_nothing_twice(real_rt, settings, tmp_path: Path) -> None:
    rt = real_rt
    buyer = await factories.buyer(rt, funds=START)
    metrics_port = free_port()
    env = giftwell_env(
        settings.resolved_database_url, settings.data_dir, TEST_SECRET, GIFTWELL_METRICS_PORT=str(metrics_port)
    )
    (server,) = start_servers(env, 1, tmp_path, extra_args=("--workers", "2"))
    workers = [start_worker(settings, tmp_path, f"w{i}", concurrency=2, lease=LEASE) for i in range(2)]
    try:
        sizes, sync_ids = await place_orders(
            [server.url], buyer, sync_orders=8, async_orders=4, async_size=50, prefix="multi"
        )
        # The redemptions run while the workers fulfil the background orders.
        card_ids = await cards_of(rt, sync_ids)
        assert len(card_ids) == 8
        statuses = await redeem_all([server.url], await issuer(rt), card_ids)
        await wait_completed(rt, len(sizes), workers)
        async with httpx.AsyncClient() as c:
            scraped = (await c.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)).text
    finally:
        codes = [stop(w) for w in workers]
        stop_servers([server])
    assert codes == [0, 0]
    assert "Traceback" not in server.log(200_000), server.log()

    await assert_issued_once_and_charged_once(rt, buyer, sizes)
    await assert_each_job_once(rt)
    await assert_balances(rt, card_ids, FACE - (FACE // SPEND) * SPEND)
    ledger_verify(settings)

    # Both API processes served requests (each wrote its own metric files), and the scrape,
    # answered by either, is the sum of both.
    mp_dir = settings.data_dir / f"prometheus-{server.url.rsplit(':', 1)[1]}"
    pids = {re.sub(r"\D", "", p.name) for p in mp_dir.glob("histogram_*.db")}
    assert len(pids) >= 2, sorted(p.name for p in mp_dir.iterdir())
    redeemed = re.search(r'^giftwell_redemptions_total\{currency="USD"\} (\S+)$', scraped, re.M)
    assert redeemed is not None, scraped[:2000]
    assert float(redeemed.group(1)) == sum(n for s, n in statuses.items() if s != 422)


def _children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_an_api_process_that_dies_is_replaced(settings, tmp_path: Path) -> None:
    env = giftwell_env(settings.resolved_database_url, settings.data_dir, TEST_SECRET)
    (server,) = start_servers(env, 1, tmp_path, extra_args=("--workers", "2"))
    try:
        first = _children(server.proc.pid)
        assert len(first) == 2, first
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while (now := _children(server.proc.pid)) == first or len(now) < 2 or victim in now:
            assert time.monotonic() < deadline, f"not replaced: {now}"
            await asyncio.sleep(0.1)
        wait_healthy([server])
        async with httpx.AsyncClient(base_url=server.url) as c:
            for _ in range(20):
                assert (await c.get("/healthz")).status_code == 200
    finally:
        stop_servers([server])
