"""Giftwell against Medusa v1's gift-card API on the same PostgreSQL server (issue 15's last row).

`make bench` runs it after the PostgreSQL benchmarks (BENCH_MEDUSA=0 skips it). It installs
Medusa v1 (bench/medusa_project/package.json: @medusajs/medusa 1.20.8 with the pinned
typeorm 0.3.16 it needs) with npm into a cache directory outside the repository
(BENCH_MEDUSA_DIR, default ~/.cache/giftwell-bench/medusa; only the first run downloads), starts
one PostgreSQL server (durable, as the other benchmarks) with two databases, and measures
Giftwell, then Medusa, one after the other, each as one server process:

  create          POST /v1/cards {currency, amount}    POST /admin/gift-cards {value, region_id}
  read            GET /v1/cards/{id}                   GET /admin/gift-cards/{id}
  balance change  POST /v1/cards/{id}/redeem {amount}  POST /admin/gift-cards/{id} {balance}
  adjustment      POST /v1/cards/{id}/adjust           POST /admin/gift-cards/{id} {balance}

Each row is BENCH_MEDUSA_CARDS (1000) requests on BENCH_MEDUSA_CONNECTIONS (8) connections,
every card once, after a warm-up of 200 of each (Node's JIT and Python's caches alike), with
one client (bench/fixedload.py) for both. Medusa runs without Redis (its fake Redis, the
in-memory cache and the local event bus: what it falls back to), NODE_ENV=production, and is
authenticated with its admin JWT (POST /admin/auth/token), its cheapest authentication.
If npm or node is missing or the install fails, the run is skipped with the reason printed.

`python -m bench.medusa` runs it alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from tests import pg
from tests.pg import free_port
from tests.servers import cli, giftwell_env, start_servers, stop_servers

from bench import fixedload, report
from bench.fixedload import Request

RESULTS = Path(__file__).with_name("results")
PROJECT = Path(__file__).with_name("medusa_project")
CACHE = Path(os.environ.get("BENCH_MEDUSA_DIR", "~/.cache/giftwell-bench/medusa")).expanduser()
EMAIL, PASSWORD = "bench@example.com", "bench-password"
VALUE = 100_000  # minor units on each card
WARMUP = 200
ROWS = ("create", "read", "balance_change", "adjustment")


def enabled() -> bool:
    return os.environ.get("BENCH_MEDUSA", "1") != "0"


def cards() -> int:
    return int(os.environ.get("BENCH_MEDUSA_CARDS", "1000"))


def connections() -> int:
    return int(os.environ.get("BENCH_MEDUSA_CONNECTIONS", "8"))


def install() -> str | None:
    """Medusa installed in CACHE (npm install when package.json changed); None, or why not."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} not found on PATH"
    CACHE.mkdir(parents=True, exist_ok=True)
    wanted = (PROJECT / "package.json").read_text()
    stamp = CACHE / ".installed-package.json"
    for name in ("package.json", "medusa-config.js", "run.js"):
        shutil.copyfile(PROJECT / name, CACHE / name)
    if stamp.exists() and stamp.read_text() == wanted and (CACHE / "node_modules/@medusajs/medusa").is_dir():
        return None
    report.progress(f"  installing Medusa v1 with npm into {CACHE} ...")
    try:
        proc = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--legacy-peer-deps"],
            cwd=CACHE,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "npm install did not finish within 15 minutes"
    if proc.returncode != 0:
        return f"npm install exited {proc.returncode}: {(proc.stderr or proc.stdout)[-1500:]}"
    stamp.write_text(wanted)
    return None


def _node_env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        NODE_ENV="production",
        MEDUSA_DISABLE_TELEMETRY="true",
        JWT_SECRET=secrets.token_urlsafe(24),
        COOKIE_SECRET=secrets.token_urlsafe(24),
    )
    return env


def _node(env: dict[str, str], *args: str) -> None:
    proc = subprocess.run(
        ["node", "run.js", *args], cwd=CACHE, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"node run.js {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")


def _http(url: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Medusa exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"Medusa did not answer within {seconds:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


@dataclass
class Target:
    """One server under test: where it is, and what each row sends to it. Every op but `create`
    takes the ids of the cards and `pass_no`, the balance changes already made on each card
    (Medusa sets a balance, so each pass sets a new one and really writes)."""

    name: str
    url: str
    token: str
    pid: int
    create: Callable[[int], list[Request]]
    ops: dict[str, Callable[[list[str], int], list[Request]]]
    id_of: Callable[[Any], str]
    about: dict[str, Any] = field(default_factory=dict)  # versions; after the run, its health

    def go(self, reqs: list[Request], db_cpu: Callable[[], float]) -> tuple[fixedload.FixedResult, list[Any]]:
        r, bodies = fixedload.run(
            self.url,
            reqs,
            connections=connections(),
            headers={"Authorization": f"Bearer {self.token}"},
            server_pid=self.pid,
            db_cpu=db_cpu,
        )
        if r.non_2xx:
            raise RuntimeError(f"{self.name}: {r.non_2xx} of {r.requests} requests failed, the first: {r.first_error}")
        return r, bodies


def _rows(targets: list[Target], db_cpu: Callable[[], float]) -> dict[str, dict[str, Any]]:
    """A warm-up of every operation on each server (on cards of its own), then each row on one
    server after the other, so that both see the machine in the same state."""
    for t in targets:
        _, bodies = t.go(t.create(WARMUP), db_cpu)
        for i, name in enumerate(ROWS[1:]):
            t.go(t.ops[name]([t.id_of(b) for b in bodies], i), db_cpu)
    out: dict[str, dict[str, Any]] = {t.name: dict(t.about) for t in targets}
    ids: dict[str, list[str]] = {}
    for i, name in enumerate(ROWS):
        for t in targets:
            if name == "create":
                r, bodies = t.go(t.create(cards()), db_cpu)
                ids[t.name] = [t.id_of(b) for b in bodies]
            else:
                r, _ = t.go(t.ops[name](ids[t.name], i - 1), db_cpu)
            out[t.name][name] = r.as_dict()
            report.progress(
                f"  {t.name} {name}: {r.rps:,.0f} req/s, p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, "
                f"CPU per request: server {r.server_cpu_us or 0:,.0f} us, PostgreSQL {r.db_cpu_us or 0:,.0f} us, "
                f"client {r.client_cpu_us or 0:,.0f} us"
            )
    return out


@contextmanager
def giftwell_target(db_url: str, workdir: Path) -> Iterator[Target]:
    """One `giftwell serve` process; after it stops, its tracebacks and `ledger verify` go into
    the target's `about`."""
    env = giftwell_env(db_url, workdir / "var", secrets.token_urlsafe(32))
    cli(env, "db", "upgrade")
    cli(env, "accounts", "create", "bench")
    scopes = ("--scope", "cards:read", "--scope", "cards:write", "--scope", "cards:redeem")
    _, tok = cli(env, "tokens", "create", "--account", "bench", *scopes)
    servers = start_servers(env, 1, workdir)
    target = Target(
        "giftwell",
        servers[0].url,
        tok["token"],
        servers[0].proc.pid,
        lambda n: [Request("POST", "/v1/cards", {"currency": "EUR", "amount": VALUE})] * n,
        {
            "read": lambda ids, _: [Request("GET", f"/v1/cards/{i}") for i in ids],
            "balance_change": lambda ids, _: [Request("POST", f"/v1/cards/{i}/redeem", {"amount": 1}) for i in ids],
            "adjustment": lambda ids, _: [
                Request("POST", f"/v1/cards/{i}/adjust", {"amount": -1, "reason": "bench"}) for i in ids
            ],
        },
        lambda body: str(body["id"]),
    )
    try:
        yield target
    finally:
        stop_servers(servers)
        target.about["server_errors_logged"] = servers[0].log(tail=1_000_000).count("Traceback")
        rc, verify = cli(env, "ledger", "verify", check=False)
        target.about["ledger_ok"] = rc == 0 and verify.get("ok") is True


@contextmanager
def medusa_target(db_url: str, workdir: Path) -> Iterator[Target]:
    """One Medusa process (`medusa start`), migrated, with an admin user and a region."""
    version = json.loads((CACHE / "node_modules/@medusajs/medusa/package.json").read_text())["version"]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    env = _node_env(db_url)
    _node(env, "migrate")
    _node(env, "user", EMAIL, PASSWORD)
    port = free_port()
    log = workdir / "medusa.log"
    with log.open("wb") as f:
        proc = subprocess.Popen(["node", "run.js", "start", str(port)], cwd=CACHE, env=env, stdout=f, stderr=f)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url + "/health", proc, log)
        token = _http(url + "/admin/auth/token", {"email": EMAIL, "password": PASSWORD})["access_token"]
        region = {
            "name": "Bench",
            "currency_code": "usd",  # a currency of the default store
            "tax_rate": 0,
            "payment_providers": [],
            "fulfillment_providers": [],
            "countries": ["us"],
        }
        region_id = _http(url + "/admin/regions", region, token)["region"]["id"]

        def balance(ids: list[str], pass_no: int) -> list[Request]:
            return [Request("POST", f"/admin/gift-cards/{i}", {"balance": VALUE - 1 - pass_no}) for i in ids]

        yield Target(
            "medusa",
            url,
            token,
            proc.pid,
            lambda n: [Request("POST", "/admin/gift-cards", {"value": VALUE, "region_id": region_id})] * n,
            {
                "read": lambda ids, _: [Request("GET", f"/admin/gift-cards/{i}") for i in ids],
                "balance_change": balance,
                "adjustment": balance,
            },
            lambda body: str(body["gift_card"]["id"]),
            {"medusa_version": version, "node_version": node},
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def measure(workdir: Path, *, durable: bool) -> dict[str, Any]:
    """Both servers on one PostgreSQL server, row by row one after the other; {"skipped": why}
    when Medusa cannot be installed or started here (never an exception for that: the rest of
    the bench stands)."""
    report.progress(f"Giftwell vs Medusa v1 gift cards ({cards():,} cards, {connections()} connections, PostgreSQL):")
    why = install()
    if why is not None:
        report.progress(f"  skipped: Medusa could not be installed: {why}")
        return {"skipped": why}
    server = pg.start(durable=durable)
    out: dict[str, Any] = {"cards": cards(), "connections": connections()}
    try:
        asyncio.run(_databases(server))
        datadir = server.datadir
        assert datadir is not None

        def db_cpu() -> float:
            return fixedload.postgres_cpu_seconds(datadir)

        with ExitStack() as stack:
            targets = [stack.enter_context(giftwell_target(server.url("giftwell"), workdir))]
            try:
                targets.append(stack.enter_context(medusa_target(server.url("medusa"), workdir)))
            except (RuntimeError, OSError, KeyError, ValueError) as e:
                report.progress(f"  Medusa did not run: {e}")
                out["skipped"] = f"Medusa did not run: {e}"
            else:
                m = targets[1].about
                report.progress(f"  Medusa {m['medusa_version']} (node {m['node_version']}, no Redis) and Giftwell up")
            out.update(_rows(targets, db_cpu))
        out["giftwell"].update(targets[0].about)  # its health, known once it stopped
    finally:
        server.stop()
    return out


async def _databases(server: pg.PgServer) -> None:
    conn = await asyncpg.connect(server.url("postgres"))
    try:
        for db in ("giftwell", "medusa"):
            await conn.execute(f"CREATE DATABASE {db}")
    finally:
        await conn.close()


def lines(result: dict[str, Any]) -> list[str]:
    head = "Giftwell vs Medusa v1 gift cards"
    if "medusa" not in result:
        return [f"{head}: skipped ({result.get('skipped', 'not run')})"]
    g, m = result["giftwell"], result["medusa"]
    out = [
        f"{head} (Medusa {m['medusa_version']}, {result['cards']:,} cards, {result['connections']} connections, "
        "same PostgreSQL; CPU in us per request, server + PostgreSQL; ratio = Giftwell / Medusa throughput; "
        "CPU ratio = Medusa's CPU per request / Giftwell's)",
        f"  {'row':<15} {'Giftwell req/s':>14} {'p50/p99 ms':>13} {'CPU':>11} "
        f"{'Medusa req/s':>12} {'p50/p99 ms':>13} {'CPU':>11} {'ratio':>6} {'CPU ratio':>9}",
    ]

    def cols(r: dict[str, Any]) -> str:
        cpu = f"{r['server_cpu_us'] or 0:,.0f}+{r.get('db_cpu_us') or 0:,.0f}"
        return f"{r['p50_ms']:>6.1f}/{r['p99_ms']:<6.1f} {cpu:>11}"

    for name in ROWS:
        a, b = g[name], m[name]
        ratio = a["rps"] / b["rps"] if b["rps"] else 0
        g_cpu = (a["server_cpu_us"] or 0) + (a.get("db_cpu_us") or 0)
        m_cpu = (b["server_cpu_us"] or 0) + (b.get("db_cpu_us") or 0)
        cpu_ratio = m_cpu / g_cpu if g_cpu else 0
        out.append(
            f"  {name:<15} {a['rps']:>14,.0f} {cols(a)} {b['rps']:>12,.0f} {cols(b)} {ratio:>5.2f}x {cpu_ratio:>8.2f}x"
        )
    return out


def problems(result: dict[str, Any]) -> list[str]:
    """What fails `make bench`: Giftwell's own errors; Medusa being unavailable does not."""
    g = result.get("giftwell")
    if not g:
        return []
    out = []
    if g.get("server_errors_logged"):
        out.append(f"Giftwell logged {g['server_errors_logged']} tracebacks in the Medusa comparison")
    if not g.get("ledger_ok"):
        out.append("ledger verify failed after the Medusa comparison")
    return out


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="giftwell-bench-medusa-"))
    try:
        result = measure(workdir, durable=os.environ.get("BENCH_PG_DURABLE", "1") != "0")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"medusa-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("\n".join(lines(result)))
    print(f"results: {out}")
    found = problems(result)
    for p in found:
        print(f"PROBLEM: {p}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
