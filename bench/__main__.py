"""`make bench` (`python -m bench`): redemption throughput and latency over HTTP, as ratios.

For each database, one `giftwell serve` process (one uvicorn worker) is measured in the same run
against two baselines, so that a busy or slow machine moves all figures together:

  0. the bare framework: a FastAPI app with one GET answering {"ok": true}, served by the same
     server with the same worker count (bench/bare.py), the ceiling of any Python endpoint here;
  A. the trivial authenticated endpoints of the same server: GET /v1/ping (token check only)
     and GET /v1/cards/{id} (token check plus one small read);
  B. the database's own single-row UPDATE rate (pgbench for PostgreSQL; a Python sqlite3
     writer for SQLite), see bench/raw.py.

Then redemptions over HTTP: uncontended (a random card of many per request) and one hot card.
Then orders (bench/orders.py): synchronous 1-card and 10-card orders over HTTP, and the
background fulfilment of one 10,000-card order, each as a ratio to the uncontended redemption.
Then the liability report over 1,000,000 cards on PostgreSQL (bench/liability.py), and the card
query (by recipient email, text search by name) over 1,000,000 cards (bench/card_query.py).
Settings (environment): BENCH_SECONDS (10 per run), BENCH_CONNECTIONS (64), BENCH_CARDS (200),
BENCH_P99_CONNECTIONS (32: the redemption's latency run),
BENCH_ORDER_CONNECTIONS (16), BENCH_ORDER_CARDS (10000, the background order),
BENCH_BACKENDS ("sqlite,postgresql"), BENCH_PG_DURABLE (1: fsync and synchronous commit on),
BENCH_LIABILITY_CARDS (1000000; 0 skips the liability report), BENCH_QUERY_CARDS (1000000; 0 skips
the card query), BENCH_BULK_CARDS (1000000: the cards of `giftwell cards issue-bulk` timed on
PostgreSQL, bench/bulk.py; 0 skips it), BENCH_MEDUSA (1: Giftwell against Medusa v1's gift-card API
on one PostgreSQL server, bench/medusa.py, skipped with the reason printed when npm cannot install
Medusa; 0 skips it; BENCH_MEDUSA_CARDS 1000, BENCH_MEDUSA_CONNECTIONS 8), BENCH_MULTI (1: `serve
--workers 1 and 2` with uvicorn and granian, and through PgBouncer, bench/multi.py; 0 skips it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from tests import pg
from tests.pg import free_port
from tests.servers import Server, cli, giftwell_env, start_servers, stop_servers, wait_healthy

from bench import bare, bulk, card_query, liability, medusa, orders, raw, report, wrk
from giftwell.settings import Settings

RESULTS = Path(__file__).with_name("results")
HUGE = 1_000_000_000  # minor units on each card: no benchmark run can spend it
SCOPES = ("--scope", "cards:read", "--scope", "cards:write", "--scope", "cards:redeem")


@dataclass(frozen=True)
class Config:
    seconds: int = int(os.environ.get("BENCH_SECONDS", "10"))
    connections: int = int(os.environ.get("BENCH_CONNECTIONS", "64"))
    cards: int = int(os.environ.get("BENCH_CARDS", "200"))
    # The latency run of the redemption (its p50 and p99 at this many connections).
    p99_connections: int = int(os.environ.get("BENCH_P99_CONNECTIONS", "32"))
    # An order costs many redemptions; 64 connections would only queue them past wrk's timeout.
    order_connections: int = int(os.environ.get("BENCH_ORDER_CONNECTIONS", "16"))
    order_cards: int = field(default_factory=orders.async_cards)
    backends: tuple[str, ...] = tuple(os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(","))
    pg_durable: bool = os.environ.get("BENCH_PG_DURABLE", "1") != "0"
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        cpu = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if "model name" in ln
            ),
            "",
        )
    wrk_version = subprocess.run([wrk.wrk_path(), "-v"], capture_output=True, text=True, check=False).stdout
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_version.split(" [", 1)[0].strip(),
        "loadavg_start": os.getloadavg(),
    }


def make_cards(base_url: str, token: str, count: int) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        ids = []
        for _ in range(count):
            r = client.post("/v1/cards", json={"currency": "EUR", "amount": HUGE})
            r.raise_for_status()
            ids.append(r.json()["id"])
    return ids


def measure_http(server: Server, token: str, cfg: Config, workdir: Path) -> dict[str, Any]:
    """Baseline A and the redemptions, against one running server."""
    cards = make_cards(server.url, token, cfg.cards + 1)
    hot, spread = cards[0], cards[1:]
    ids_file = workdir / "card_ids.txt"
    ids_file.write_text("\n".join(spread) + "\n")
    redeem = json.dumps({"amount": 1})

    def go(
        method: str, path: str, body: str = "", seconds: int = cfg.seconds, connections: int = cfg.connections
    ) -> wrk.HttpResult:
        return wrk.run(
            server.url,
            method=method,
            path=path,
            token=token,
            ids_file=ids_file,
            body=body,
            seconds=seconds,
            connections=connections,
            threads=cfg.threads,
            server_pid=server.proc.pid,
        )

    # Warm up: fill the connection pool, the statement caches, the interpreter's caches.
    go("POST", "/v1/cards/{id}/redeem", redeem, seconds=min(3, cfg.seconds))
    out: dict[str, Any] = {}
    for name, args in [
        ("ping", ("GET", "/v1/ping")),
        ("get_card", ("GET", "/v1/cards/{id}")),
        ("redeem_uncontended", ("POST", "/v1/cards/{id}/redeem", redeem)),
        ("redeem_hot", ("POST", f"/v1/cards/{hot}/redeem", redeem)),
        # Issue 15's latency goal: p99 under 50 ms at 32 connections.
        ("redeem_32", ("POST", "/v1/cards/{id}/redeem", redeem, cfg.seconds, cfg.p99_connections)),
    ]:
        r = go(*args)  # type: ignore[arg-type]
        out[name] = r.as_dict()
        report.progress(
            f"  {name}: {r.rps:,.0f} req/s, p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, "
            f"server CPU {r.server_cpu_us or 0:,.0f} us/request"
        )
    return out


def measure_bare(cfg: Config, workdir: Path, token: str) -> dict[str, Any]:
    """Baseline 0: the bare FastAPI app (bench/bare.py), same server, same worker count, same run."""
    port = free_port()
    proc = bare.start(port, workdir / "bare.log")
    try:
        url = f"http://127.0.0.1:{port}"
        kw: dict[str, Any] = {"token": token, "connections": cfg.connections, "threads": cfg.threads}
        wrk.run(url, method="GET", path="/", seconds=min(3, cfg.seconds), **kw)  # warm-up
        r = wrk.run(url, method="GET", path="/", seconds=cfg.seconds, server_pid=proc.pid, **kw)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    report.progress(
        f"  bare FastAPI GET: {r.rps:,.0f} req/s, p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, "
        f"server CPU {r.server_cpu_us or 0:,.0f} us/request"
    )
    return r.as_dict()


def bench_backend(backend: str, cfg: Config, workdir: Path) -> dict[str, Any]:
    report.progress(f"{backend}:")
    result: dict[str, Any] = {"loadavg_start": os.getloadavg()}
    pg_server: pg.PgServer | None = None
    raw_runs: list[tuple[str, Callable[[], raw.RawResult]]]
    try:
        if backend == "sqlite":
            db_url = f"sqlite:///{workdir / 'giftwell.db'}"
            sync = Settings.model_fields["sqlite_synchronous"].default
            result["settings"] = {"synchronous": sync}
            raw_runs = [
                (
                    "raw_update",
                    lambda: raw.sqlite_updates(
                        workdir / "raw.db", rows=cfg.cards, seconds=cfg.seconds, synchronous=sync
                    ),
                )
            ]
        elif backend == "postgresql":
            pg_server = pg.start(durable=cfg.pg_durable)
            asyncio.run(_pg_setup(pg_server, cfg, result))
            db_url = pg_server.url("giftwell")
            server = pg_server

            def pgbench(hot: bool) -> raw.RawResult:
                return raw.pgbench(
                    server,
                    "rawbench",
                    rows=cfg.cards,
                    hot=hot,
                    seconds=cfg.seconds,
                    clients=cfg.connections,
                    threads=cfg.threads,
                    workdir=workdir,
                )

            raw_runs = [("raw_update", lambda: pgbench(False)), ("raw_update_hot", lambda: pgbench(True))]
        else:
            raise SystemExit(f"unknown backend {backend!r} in BENCH_BACKENDS (sqlite, postgresql)")

        env = giftwell_env(db_url, workdir / "var", secrets.token_urlsafe(32))
        # Before any server starts: on SQLite a server and the CLI would otherwise both migrate the
        # new file at once.
        cli(env, "db", "upgrade")
        servers = start_servers(env, 1, workdir, wait=False)
        try:
            cli(env, "accounts", "create", "bench")
            _, tok = cli(env, "tokens", "create", "--account", "bench", *SCOPES, *orders.ORDER_SCOPES)
            orders.setup(env, workdir, "bench")
            wait_healthy(servers)
            result["bare"] = measure_bare(cfg, workdir, tok["token"])
            result.update(measure_http(servers[0], tok["token"], cfg, workdir))
            result.update(
                orders.measure(
                    servers[0],
                    tok["token"],
                    seconds=cfg.seconds,
                    connections=cfg.order_connections,
                    threads=cfg.threads,
                    async_cards=cfg.order_cards,
                    env=env,
                    workdir=workdir,
                    separate_worker=pg_server is not None,
                )
            )
        finally:
            stop_servers(servers)
            log = servers[0].log(tail=1_000_000)
            result["server_errors_logged"] = log.count("Traceback")
            if result["server_errors_logged"]:
                report.progress(f"  server log (tail):\n{log[-3000:]}")
        rc, verify = cli(env, "ledger", "verify", check=False)
        result["ledger_ok"] = rc == 0 and verify.get("ok") is True
        report.progress(f"  ledger verify: {'ok' if result['ledger_ok'] else verify}")
        for name, fn in raw_runs:
            r = fn()
            result[name] = r.as_dict()
            report.progress(f"  {name}: {r.tps:,.0f} tx/s, mean {r.mean_ms:.2f} ms")
    finally:
        if pg_server is not None:
            pg_server.stop()
    result["loadavg_end"] = os.getloadavg()
    return result


async def _pg_setup(server: pg.PgServer, cfg: Config, result: dict[str, Any]) -> None:
    conn = await asyncpg.connect(server.url("postgres"))
    try:
        await conn.execute("CREATE DATABASE giftwell")
        result["settings"] = {
            name: await conn.fetchval(f"SHOW {name}")
            for name in ("server_version", "fsync", "synchronous_commit", "full_page_writes", "max_connections")
        }
    finally:
        await conn.close()
    await raw.pg_prepare(server, "rawbench", cfg.cards)


def main() -> int:
    cfg = Config()
    started = time.monotonic()
    info = machine()
    report.progress(
        f"machine: {info['nproc']} cores ({info['cpu'] or 'unknown CPU'}), Python {info['python']}, "
        f"load average {info['loadavg_start'][0]:.2f}; {cfg.seconds} s per run, {cfg.connections} connections"
    )
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "config": {
            k: getattr(cfg, k)
            for k in (
                "seconds",
                "connections",
                "p99_connections",
                "cards",
                "order_connections",
                "order_cards",
                "backends",
                "pg_durable",
                "threads",
            )
        },
        "backends": {},
    }
    workdir = Path(tempfile.mkdtemp(prefix="giftwell-bench-"))
    try:
        for backend in cfg.backends:
            sub = workdir / backend
            sub.mkdir()
            results["backends"][backend] = bench_backend(backend, cfg, sub)
        if "postgresql" in cfg.backends and int(os.environ.get("BENCH_LIABILITY_CARDS", "1000000")):
            sub = workdir / "liability"
            sub.mkdir()
            results["liability"] = liability.measure(sub, durable=cfg.pg_durable)
        if "postgresql" in cfg.backends and int(os.environ.get("BENCH_QUERY_CARDS", "1000000")):
            sub = workdir / "card_query"
            sub.mkdir()
            results["card_query"] = card_query.measure(sub, durable=cfg.pg_durable)
        if "postgresql" in cfg.backends and bulk.cards():
            sub = workdir / "bulk"
            sub.mkdir()
            results["bulk_issue"] = bulk.measure(sub, durable=cfg.pg_durable)
        if "postgresql" in cfg.backends and medusa.enabled():
            sub = workdir / "medusa"
            sub.mkdir()
            results["medusa"] = medusa.measure(sub, durable=cfg.pg_durable)
        if "postgresql" in cfg.backends and os.environ.get("BENCH_MULTI", "1") != "0":
            # Several server processes (bench/multi.py), in a process of its own: it prints its
            # lines and writes its own JSON (bench/results/multi-*.json).
            rc = subprocess.run([sys.executable, "-m", "bench.multi"], check=False).returncode
            results["multi"] = {"exit_status": rc}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["elapsed_seconds"] = round(time.monotonic() - started, 1)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(report.render(results))
    problems = report.problems(results)
    if results.get("multi", {}).get("exit_status", 0) != 0:
        problems.append("bench.multi (several server processes) failed: see its output above")
    for name, module in (
        ("liability", liability),
        ("card_query", card_query),
        ("bulk_issue", bulk),
        ("medusa", medusa),
    ):
        if name in results:
            print("\n" + "\n".join(module.lines(results[name])))
            problems += module.problems(results[name])
    print(f"\nresults: {out} ({results['elapsed_seconds']:.0f} s)")
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
