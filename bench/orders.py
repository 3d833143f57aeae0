"""Order throughput: synchronous 1-card and 10-card orders over HTTP (wrk), and the background
fulfilment rate of one 10,000-card order with a worker running.

Set-up, through the CLI as an operator does it: an operator account (it issues the house
product's cards), the product `bench-eur` (1.00 EUR, sold at face value), and funds on the buyer
account for far more cards than any run can order. Each synchronous order has a reference no
other request of the run has (`{seq}` in the body, see bench/lua/request.lua).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from tests.servers import Server, cli

from bench import report, wrk

PRODUCT = "bench-eur"
CARD_VALUE = 100  # minor units; price = face value
FUNDS = 10**13  # minor units on the buyer's funding account: no run can spend it
ORDER_SCOPES = ("--scope", "orders:read", "--scope", "orders:write", "--scope", "products:read")
ASYNC_TIMEOUT_SECONDS = 1800


def setup(env: dict[str, str], workdir: Path, buyer: str) -> None:
    """The operator, the product and the buyer's funds (the buyer account exists already)."""
    cli(env, "accounts", "create", "bench-operator", "--operator")
    product = {
        "id": PRODUCT,
        "name": "Bench Gift Card",
        "brand": "Bench",
        "currency": "EUR",
        "countries": ["DE"],
        "categories": ["bench"],
        "image_url": None,
        "description": "",
        "denominations": {"min": 100, "max": 100000, "step": 1},
        "price": {"discount_bps": 0, "fee": 0},
        "required_fields": [],
        "expiry_months": None,
        "supplier": "house",
        "active": True,
    }
    path = workdir / "products.json"
    path.write_text(json.dumps([product]))
    cli(env, "products", "import", str(path))
    cli(env, "funding", "add", "--account", buyer, "--amount", str(FUNDS), "--currency", "EUR")


def order_body(cards: int, *, mode: str, reference: str) -> str:
    return json.dumps(
        {"reference": reference, "mode": mode, "items": [{"product": PRODUCT, "amount": CARD_VALUE, "quantity": cards}]}
    )


def start_worker(env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    """A `giftwell worker` process (PostgreSQL's deployment), once it has said it started."""
    log_path = workdir / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "giftwell", "worker", "--poll-interval", "0.1"],
            env={**env, "GIFTWELL_LOG_LEVEL": "info"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "started" not in log_path.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"giftwell worker did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.05)
    return proc


def settle(pid: int, *, timeout: float = 120) -> None:
    """Wait until the server is idle. wrk stops with requests still in the server (an order
    takes far longer than a redemption, and orders of one buyer queue on its funding account's
    row lock); left alone, they would run into the next benchmark and be counted against it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = wrk.process_cpu_seconds(pid)
        time.sleep(0.5)
        if wrk.process_cpu_seconds(pid) - before < 0.02:
            return


CARDS_PAGE = 100
CARDS_PAGE_TRIES = 20


def measure_cards_page(client: httpx.Client, order_id: str, server_pid: int) -> dict[str, Any]:
    """The buyer's first page of the order's cards (`GET /v1/orders/{id}/cards`, codes decrypted
    and their showing recorded), asked `CARDS_PAGE_TRIES` times: wall time each (loopback, so
    mostly the server's) and the server's CPU per request."""
    times = []
    cpu_before = wrk.process_cpu_seconds(server_pid)
    for _ in range(CARDS_PAGE_TRIES):
        started = time.monotonic()
        r = client.get(f"/v1/orders/{order_id}/cards", params={"limit": CARDS_PAGE})
        r.raise_for_status()
        times.append(time.monotonic() - started)
        assert len(r.json()["data"]) == CARDS_PAGE
    cpu = wrk.process_cpu_seconds(server_pid) - cpu_before
    times.sort()
    return {
        "limit": CARDS_PAGE,
        "requests": CARDS_PAGE_TRIES,
        "p50_ms": times[len(times) // 2] * 1000,
        "max_ms": times[-1] * 1000,
        "server_cpu_ms": cpu / CARDS_PAGE_TRIES * 1000,
    }


def measure_async(server: Server, token: str, cards: int, fulfiller_pid: int) -> dict[str, Any]:
    """Place one `cards`-card order in async mode and time it from placement until it is no
    longer open; with the CPU time the fulfilling process spent meanwhile; then the first page of
    its cards."""
    reference = f"async-{secrets.token_hex(4)}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        cpu_before = wrk.process_cpu_seconds(fulfiller_pid)
        started = time.monotonic()
        r = client.post("/v1/orders", content=order_body(cards, mode="async", reference=reference))
        r.raise_for_status()
        placed = time.monotonic() - started
        status = r.json()["status"]
        while status in ("pending", "processing") and time.monotonic() - started < ASYNC_TIMEOUT_SECONDS:
            time.sleep(0.25)
            listed = client.get("/v1/orders", params={"reference": reference, "limit": 1})
            listed.raise_for_status()
            status = listed.json()["data"][0]["status"]
        seconds = time.monotonic() - started
        cpu = wrk.process_cpu_seconds(fulfiller_pid) - cpu_before
        page = measure_cards_page(client, r.json()["id"], server.proc.pid) if cards >= CARDS_PAGE else None
    return {
        "cards_page": page,
        "cards": cards,
        "status": status,
        "seconds": seconds,
        "placement_seconds": placed,
        "cards_per_second": cards / seconds,
        "fulfiller_cpu_us_per_card": cpu / cards * 1e6,
    }


def measure(
    server: Server,
    token: str,
    *,
    seconds: int,
    connections: int,
    threads: int,
    async_cards: int,
    env: dict[str, str],
    workdir: Path,
    separate_worker: bool,
) -> dict[str, Any]:
    """Synchronous orders of 1 and 10 cards, then one large order in the background. The
    background order is fulfilled by the server's in-process worker (SQLite, the embedded
    default) or by a separate `giftwell worker` process (`separate_worker`, PostgreSQL)."""
    run = secrets.token_hex(3)

    def go(cards: int, tag: str, secs: int) -> wrk.HttpResult:
        settle(server.proc.pid)
        return wrk.run(
            server.url,
            method="POST",
            path="/v1/orders",
            token=token,
            body=order_body(cards, mode="sync", reference=f"{tag}-{run}-{{seq}}"),
            seconds=secs,
            connections=connections,
            threads=threads,
            server_pid=server.proc.pid,
        )

    go(1, "warm", min(2, seconds))
    out: dict[str, Any] = {}
    for name, cards in (("order_1", 1), ("order_10", 10)):
        r = go(cards, name, seconds)
        out[name] = {**r.as_dict(), "cards_per_order": cards}
        report.progress(
            f"  {name}: {r.rps:,.1f} orders/s ({r.rps * cards:,.0f} cards/s), p50 {r.p50_ms:.1f} ms, "
            f"p99 {r.p99_ms:.1f} ms, server CPU {r.server_cpu_us or 0:,.0f} us/order"
        )
    worker = start_worker(env, workdir) if separate_worker else None
    settle(server.proc.pid)
    try:
        a = measure_async(server, token, async_cards, worker.pid if worker else server.proc.pid)
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    a["fulfilled_by"] = "giftwell worker process" if worker else "the server's in-process worker"
    if worker is not None:
        log = (workdir / "worker.log").read_text(errors="replace")
        a["worker_errors_logged"] = log.count("Traceback")
    out["order_async"] = a
    report.progress(
        f"  order_async: {a['cards']:,} cards {a['status']} in {a['seconds']:.1f} s = {a['cards_per_second']:,.0f} "
        f"cards/s ({a['fulfilled_by']}, {a['fulfiller_cpu_us_per_card']:,.0f} us CPU per card)"
    )
    return out


def async_cards() -> int:
    return int(os.environ.get("BENCH_ORDER_CARDS", "10000"))
