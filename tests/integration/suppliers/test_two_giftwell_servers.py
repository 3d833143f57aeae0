"""Two Giftwell servers on loopback, each with its own SQLite database and its in-process
worker: B (uvicorn in a thread) sells `acme-usd`; A, a real `giftwell serve` process, lists it
as `acme-via-b`, bought from B. A buyer orders 25 cards from A; A's process is SIGKILLed while
its order to B is in flight (B has it, A has not heard back), then started again: the buyer gets
25 codes that redeem on B, B sold them once, and both ledgers verify. (The webhook's part is
in test_upstream_giftwell.py.)"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from giftwell.app import build_runtime
from giftwell.services.ledger import verify
from giftwell.store.models import Order, OrderItem, SupplierOrder
from tests import upstream
from tests.conftest import TEST_SECRET
from tests.pg import free_port
from tests.servers import Server, giftwell_env, wait_healthy
from tests.upstream import Fault

pytestmark = pytest.mark.slow


def serve(env: dict[str, str], port: int, log: Path) -> Server:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "giftwell", "serve", "--host", "127.0.0.1", "--port", str(port), "--background"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", proc, log)
    wait_healthy([server])
    return server


def env_for(db: Path, data: Path, port: int, **extra: str) -> dict[str, str]:
    return giftwell_env(
        f"sqlite:///{db}",
        data,
        TEST_SECRET,
        GIFTWELL_PUBLIC_URL=f"http://127.0.0.1:{port}",
        GIFTWELL_WORKER_POLL_INTERVAL_SECONDS="0.1",
        GIFTWELL_WORKER_SHUTDOWN_GRACE_SECONDS="0",
        **extra,
    )


async def test_kill_a_mid_order_and_restart_25_cards_bought_once(tmp_path, sqlite_template):
    pa, pb = free_port(), free_port()
    for name in ("a", "b"):
        shutil.copyfile(sqlite_template, tmp_path / f"{name}.db")
    env_a = env_for(
        tmp_path / "a.db",
        tmp_path / "a",
        pa,
        GIFTWELL_JOB_LEASE_SECONDS="2",
        GIFTWELL_JOB_BACKOFF_BASE_SECONDS="0.1",
        GIFTWELL_SUPPLIER_POLL_SECONDS="0.3",
        GIFTWELL_SUPPLIER_POLL_MAX_SECONDS="1",
    )
    sb = upstream.settings_for(f"sqlite:///{tmp_path}/b.db", tmp_path / "b", pb)
    sa_ = upstream.settings_for(f"sqlite:///{tmp_path}/a.db", tmp_path / "a", pa)
    rb, ra = build_runtime(sb), build_runtime(sa_)
    b_serving = upstream.serve(sb, background=True)
    b_url = b_serving.__enter__()
    # B answers A's order only after 3 s: A dies between B taking the order and A hearing of it.
    proxy = upstream.FaultProxy(b_url, {("POST", "/api/b2b/order"): [Fault(forward=True, delay=3.0)]}).start()
    a_server = None
    try:
        # No webhook: B's could settle the order at A before A dies; polls alone finish it here.
        b = await upstream.seed_b(rb, b_url, None)
        buyer = await upstream.seed_a(ra, proxy.url, b)
        a_server = serve(env_a, pa, tmp_path / "a.log")
        body = {"amount": 10, "referenceId": "po-25", "quantity": 25, "productId": upstream.A_PRODUCT}
        async with httpx.AsyncClient() as http:
            r = await http.post(
                f"{a_server.url}/api/b2b/order", json={**body, "requiredInfoFromUser": []}, headers=buyer.headers
            )
            assert r.status_code == 200, r.text
            order_id = r.json()["data"]["id"]

            deadline = time.monotonic() + 20
            while proxy.count("POST", "/api/b2b/order") < 1:
                assert time.monotonic() < deadline, a_server.log()
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # B has taken the order; A waits for the answer
            os.kill(a_server.proc.pid, signal.SIGKILL)
            a_server.proc.wait(timeout=10)
            async with ra.reader() as uow:
                purchase = (await uow.conn.execute(sa.select(SupplierOrder))).one()
                item = (await uow.conn.execute(sa.select(OrderItem.id))).scalar_one()
            assert (purchase.status, purchase.upstream_id) == ("placing", None)  # A never heard back

            a_server = serve(env_a, pa, tmp_path / "a.log")
            deadline = time.monotonic() + 30
            while True:
                got = await http.get(f"{a_server.url}/api/b2b/order", params={"id": order_id}, headers=buyer.headers)
                if got.json()["data"]["status"] == "completed":
                    break
                assert time.monotonic() < deadline, got.text + a_server.log()
                await asyncio.sleep(0.2)
            infos = got.json()["data"]["redeemInfos"]
            assert len({i["code"] for i in infos}) == 25

            # Bought once: one order at B for the item's reference, 25 cards, paid once.
            async with rb.reader() as uow:
                at_b = (await uow.conn.execute(sa.select(Order).where(Order.reference == f"gw-{item}"))).all()
            assert [(o.card_count, o.status, o.charged) for o in at_b] == [(25, "completed", 25 * 975)]
            assert proxy.count("POST", "/api/b2b/order") == 1  # the retry asked B first, and found it

            # The codes work on B.
            op = b["operator"]
            r = await http.post(
                f"{b_url}/api/giftcards/redeem",
                json={"giftcard_code": infos[0]["code"], "amount": 10},
                headers=op.headers,
            )
            assert r.status_code == 200, r.text
            assert r.json()["giftcard"]["balance"] == 0
        for rt in (ra, rb):
            async with rt.reader() as uow:
                report = await verify.verify(uow)
            assert report.ok, report.problems
    finally:
        proxy.stop()
        if a_server is not None and a_server.proc.poll() is None:
            a_server.proc.terminate()
            a_server.proc.wait(timeout=15)
        b_serving.__exit__(None, None, None)
        await ra.close()
        await rb.close()
