"""The soak: a bank-style workload against a real `giftwell serve` process, with faults, checked
against a client-side model of every balance.

Many concurrent clients issue, reload, redeem, hold, capture, void, refund, transfer, adjust,
block and unblock cards over HTTP, each POST with its own `Idempotency-Key`. Each client owns its
cards (the clients run at once, so the server sees real concurrency, but each card's model is
exact): the model applies an operation only when the server acknowledged it (2xx); a 4xx changes
nothing; an answer lost to a fault (connection reset, 503, a key still in flight) is retried with
the same key until it is definite, so every operation takes effect exactly once or not at all.

They also place and cancel orders, with a webhook receiver that refuses or hangs on some
deliveries (`tests/soak_orders.py`).

Faults, spread over the run: `kill -9` of the server (restarted at once on the same port; on
SQLite its in-process worker dies with it), on PostgreSQL of a `giftwell worker` too, and in
`make soak` a restart of PostgreSQL. At random points
and at the end, cards are read back and compared with the model, and `giftwell ledger verify`
runs; at the end every acknowledged transfer is counted in the database, exactly once.

`make soak` runs `python -m tests.soak` (1,000,000 operations on each database, 100 kills);
`tests/integration/test_soak.py` runs a short one in `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from tests.receivers import Receiver
from tests.servers import Server, cli, giftwell_env, start_servers, stop_servers, wait_healthy
from tests.soak_orders import FlakyReceiver, Orders, prepare_orders

# The sender's timeout for a webhook delivery; the receiver leaves some hanging past it.
WEBHOOK_TIMEOUT = 1.0

CURRENCY = "EUR"
DEFINITE = {200, 201, 202, 402, 404, 409, 422}


@dataclass
class CardModel:
    id: str
    balance: int
    blocked: bool = False
    holds: dict[str, int] = field(default_factory=dict)  # open hold transfer id -> amount
    refundable: dict[str, int] = field(default_factory=dict)  # redemption id -> amount left
    transfers: int = 1  # acknowledged transfers touching the card (its issue is the first)

    @property
    def available(self) -> int:
        return self.balance - sum(self.holds.values())


@dataclass
class Stats:
    ops: int = 0
    acknowledged: int = 0
    declined: int = 0
    retried: int = 0
    kills: int = 0
    worker_kills: int = 0
    db_restarts: int = 0
    checks: int = 0
    recovery: list[float] = field(default_factory=list)
    by_op: dict[str, int] = field(default_factory=dict)


class Soak:
    def __init__(
        self, server: Server, env: dict[str, str], token: str, *, seed: int, clients: int, receiver: Receiver
    ) -> None:
        self.server = server
        self.env = env
        self.headers = {"Authorization": f"Bearer {token}"}
        self.rng = random.Random(seed)
        self.clients = clients
        self.cards: list[list[CardModel]] = [[] for _ in range(clients)]
        self.stats = Stats()
        self.restarting = asyncio.Event()
        self.restarting.set()  # set: the server is up
        self.progress = asyncio.Event()  # set after each operation
        self.orders = Orders(self, receiver)
        # Separate `giftwell worker` processes (PostgreSQL: the server runs none in-process).
        self.workers: list[subprocess.Popen[bytes]] = []
        self.workdir = server.log_path.parent
        self.settled: dict[str, Any] = {}

    # -- requests ---------------------------------------------------------------------------------

    async def call(self, http: httpx.AsyncClient, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request, retried with the same key until its answer is definite."""
        key = str(uuid.uuid4())
        headers = {**self.headers, "Idempotency-Key": key} if method == "POST" else self.headers
        for attempt in range(10_000):
            await self.restarting.wait()
            try:
                r = await http.request(method, path, json=body, headers=headers)
            except (httpx.TransportError, httpx.TimeoutException):
                self.stats.retried += 1
                await asyncio.sleep(0.05 * min(attempt + 1, 20))
                continue
            if r.status_code == 409 and r.json().get("error", {}).get("code") == "idempotency_key_in_use":
                self.stats.retried += 1  # the first try's key is still leased by a killed server
                await asyncio.sleep(0.2)
                continue
            if r.status_code in DEFINITE:
                return r.status_code, r.json()
            if r.status_code in (500, 502, 503, 504):
                self.stats.retried += 1
                await asyncio.sleep(0.1 * min(attempt + 1, 20))
                continue
            raise AssertionError(f"{method} {path}: unexpected {r.status_code} {r.text[:300]}")
        raise AssertionError(f"{method} {path}: no definite answer")

    # -- operations -------------------------------------------------------------------------------

    async def issue(self, http: httpx.AsyncClient, mine: list[CardModel]) -> None:
        amount = self.rng.randint(1_000, 50_000)
        status, doc = await self.call(http, "POST", "/v1/cards", {"currency": CURRENCY, "amount": amount})
        assert status == 201, doc
        mine.append(CardModel(doc["id"], amount))

    async def step(self, http: httpx.AsyncClient, c: int) -> str:
        mine = self.cards[c]
        roll = self.rng.random()
        if roll < 0.02:
            return await self.orders.place(http, c)
        if roll < 0.03:
            return await self.orders.cancel(http, c)
        if len(mine) < 3 or self.rng.random() < 0.03:
            await self.issue(http, mine)
            return "issue"
        card = self.rng.choice(mine)
        roll = self.rng.random()
        if roll < 0.30:
            amount = self.rng.randint(1, max(1, card.available + card.available // 5))
            status, doc = await self.call(http, "POST", f"/v1/cards/{card.id}/redeem", {"amount": amount})
            if status == 200:
                card.balance -= amount
                card.refundable[doc["id"]] = amount
                card.transfers += 1
            return "redeem"
        if roll < 0.40:
            amount = self.rng.randint(1, max(1, card.available))
            status, doc = await self.call(
                http, "POST", f"/v1/cards/{card.id}/redeem", {"amount": amount, "capture": False}
            )
            if status == 200:
                card.holds[doc["id"]] = amount
                card.transfers += 1
            return "hold"
        if roll < 0.50 and card.holds:
            tid = self.rng.choice(sorted(card.holds))
            if self.rng.random() < 0.6:
                status, _ = await self.call(http, "POST", f"/v1/transfers/{tid}/capture", {})
                if status == 200:
                    card.balance -= card.holds.pop(tid)
                return "capture"
            status, _ = await self.call(http, "POST", f"/v1/transfers/{tid}/void", {})
            if status == 200:
                card.holds.pop(tid)
            return "void"
        if roll < 0.60 and card.refundable:
            tid = self.rng.choice(sorted(card.refundable))
            amount = self.rng.randint(1, card.refundable[tid])
            status, _ = await self.call(http, "POST", f"/v1/transfers/{tid}/refund", {"amount": amount})
            if status == 200:
                card.balance += amount
                card.refundable[tid] -= amount
                if not card.refundable[tid]:
                    del card.refundable[tid]
                card.transfers += 1
            return "refund"
        if roll < 0.72:
            other = self.rng.choice(mine)
            if other is card:
                return "noop"
            amount = self.rng.randint(1, max(1, card.available))
            status, _ = await self.call(
                http, "POST", f"/v1/cards/{card.id}/transfer", {"to_card": other.id, "amount": amount}
            )
            if status == 200:
                card.balance -= amount
                other.balance += amount
                card.transfers += 1
                other.transfers += 1
            return "transfer"
        if roll < 0.80:
            amount = self.rng.randint(1, 5_000)
            status, _ = await self.call(http, "POST", f"/v1/cards/{card.id}/reload", {"amount": amount})
            if status == 200:
                card.balance += amount
                card.transfers += 1
            return "reload"
        if roll < 0.86:
            amount = self.rng.choice([1, -1]) * self.rng.randint(1, 2_000)
            status, _ = await self.call(
                http, "POST", f"/v1/cards/{card.id}/adjust", {"amount": amount, "reason": "soak"}
            )
            if status == 200:
                card.balance += amount
                card.transfers += 1
            return "adjust"
        if roll < 0.92:
            action = "unblock" if card.blocked else "block"
            status, _ = await self.call(http, "POST", f"/v1/cards/{card.id}/{action}", {})
            if status == 200:
                card.blocked = not card.blocked
            return action
        await self.check_card(http, card)
        return "check"

    async def check_card(self, http: httpx.AsyncClient, card: CardModel) -> None:
        status, doc = await self.call(http, "GET", f"/v1/cards/{card.id}")
        assert status == 200, doc
        got = (doc["balance"], doc["available"], doc["status"] == "blocked")
        assert got == (card.balance, card.available, card.blocked), (card.id, got, card)
        self.stats.checks += 1

    # -- driving it -------------------------------------------------------------------------------

    async def client(self, c: int, ops: int) -> None:
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=self.server.url, timeout=30, limits=limits) as http:
            for _ in range(ops):
                name = await self.step(http, c)
                self.stats.ops += 1
                self.progress.set()
                self.stats.by_op[name] = self.stats.by_op.get(name, 0) + 1

    async def kill_server(self) -> None:
        """SIGKILL the server and start it again on the same port."""
        self.restarting.clear()
        try:
            self.server.proc.send_signal(signal.SIGKILL)
            self.server.proc.wait(timeout=30)
            started = time.monotonic()
            await asyncio.to_thread(self._restart)
            self.stats.recovery.append(time.monotonic() - started)
            self.stats.kills += 1
        finally:
            self.restarting.set()

    def start_worker(self, n: int) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"worker-{n}.log").open("ab")
        cmd = [sys.executable, "-m", "giftwell", "worker", "--concurrency", "4", "--poll-interval", "0.2"]
        return subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def kill_worker(self) -> None:
        """SIGKILL one worker and start another in its place: what it held is claimed again once
        its lease passes."""
        n = self.rng.randrange(len(self.workers))
        self.workers[n].send_signal(signal.SIGKILL)
        self.workers[n].wait(timeout=30)
        self.workers[n] = self.start_worker(n)
        self.stats.worker_kills += 1

    def stop_workers(self) -> None:
        for proc in self.workers:
            proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def _restart(self) -> None:
        port = self.server.url.rsplit(":", 1)[1]
        with self.server.log_path.open("ab") as log:
            self.server.proc = subprocess.Popen(
                [sys.executable, "-m", "giftwell", "serve", "--host", "127.0.0.1", "--port", port],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_healthy([self.server])

    async def faults(self, kills: int, ops: int, pg: Any = None) -> None:
        """`kills` kill -9s spread over the run by the operations done (not by the clock, so a fast
        or a slow machine sees them all); a database restart half way when `pg` (a tests.pg.PgServer)
        is given."""
        gap = ops / (kills + 1)
        for i in range(kills):
            due = int(gap * (i + 1) + self.rng.uniform(-0.25, 0.25) * gap)
            while self.stats.ops < due:
                self.progress.clear()
                await self.progress.wait()
            await self.kill_server()
            if self.workers:
                await asyncio.to_thread(self.kill_worker)
            if pg is not None and i == kills // 2:
                started = time.monotonic()
                await asyncio.to_thread(pg.halt)
                await asyncio.sleep(1)
                await asyncio.to_thread(pg.resume)
                self.stats.db_restarts += 1
                self.stats.recovery.append(time.monotonic() - started)

    async def run(self, ops: int, *, kills: int, pg: Any = None) -> Stats:
        per_client = ops // self.clients
        async with httpx.AsyncClient(base_url=self.server.url, timeout=30) as http:
            await self.orders.subscribe(http)
        chaos = asyncio.create_task(self.faults(kills, per_client * self.clients, pg))
        try:
            await asyncio.gather(*(self.client(c, per_client) for c in range(self.clients)))
        except BaseException:
            chaos.cancel()
            raise
        await chaos
        async with httpx.AsyncClient(base_url=self.server.url, timeout=30) as http:
            for mine in self.cards:
                for card in mine:
                    await self.check_card(http, card)
            self.settled = await self.orders.settle(http)
        return self.stats

    @property
    def all_cards(self) -> list[CardModel]:
        return [card for mine in self.cards for card in mine]


async def transfer_counts(db_url: str) -> dict[str, int]:
    """Transfers touching each card, from the database (a card is the debit or credit side)."""
    from giftwell.store.engine import create_engine

    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT c, count(*) FROM ("
                    " SELECT card_id AS c FROM transfers WHERE card_id IS NOT NULL"
                    " UNION ALL SELECT counterparty_card_id FROM transfers WHERE counterparty_card_id IS NOT NULL"
                    ") t GROUP BY c"
                )
            )
            return {r[0]: int(r[1]) for r in rows}
    finally:
        await engine.dispose()


def verify(soak: Soak, db_url: str) -> dict[str, Any]:
    """The end of a run: the ledger verifies, and every card has exactly the transfers the model
    acknowledged (none lost, none doubled)."""
    code, report = cli(soak.env, "ledger", "verify", check=False)
    assert code == 0, report
    counts = asyncio.run(transfer_counts(db_url))
    wrong = {c.id: (c.transfers, counts.get(c.id, 0)) for c in soak.all_cards if counts.get(c.id, 0) != c.transfers}
    assert not wrong, f"transfers per card (model, database) disagree: {list(wrong.items())[:10]}"
    return report


def prepare(db_url: str, data_dir: Path, secret: str) -> tuple[dict[str, str], str]:
    env = giftwell_env(
        db_url,
        data_dir,
        secret,
        GIFTWELL_IDEMPOTENCY_LEASE_SECONDS="2",
        GIFTWELL_RATE_LIMIT_PER_TOKEN="0",
        GIFTWELL_RATE_LIMIT_PER_IP="0",
        GIFTWELL_WEBHOOKS_ALLOW_PRIVATE="1",
        GIFTWELL_WEBHOOK_TIMEOUT_SECONDS=str(WEBHOOK_TIMEOUT),
        GIFTWELL_JOB_BACKOFF_BASE_SECONDS="0.2",
        GIFTWELL_JOB_BACKOFF_CAP_SECONDS="2",
        GIFTWELL_JOB_LEASE_SECONDS="3",
    )
    cli(env, "db", "upgrade")
    cli(env, "accounts", "create", "soak")
    prepare_orders(env, data_dir.parent)
    scopes = [
        "cards:read",
        "cards:write",
        "cards:redeem",
        "orders:read",
        "orders:write",
        "webhooks:write",
        "account:read",
    ]
    _, tok = cli(env, "tokens", "create", "--account", "soak", *[a for s in scopes for a in ("--scope", s)])
    return env, tok["token"]


def run_soak(
    db_url: str, workdir: Path, *, ops: int, kills: int, clients: int, seed: int, pg: Any = None, secret: str
) -> dict[str, Any]:
    env, token = prepare(db_url, workdir / "var", secret)
    receiver = FlakyReceiver(random.Random(seed + 1), WEBHOOK_TIMEOUT).start()
    [server] = start_servers(env, 1, workdir)
    soak = Soak(server, env, token, seed=seed, clients=clients, receiver=receiver)
    if not db_url.startswith("sqlite"):
        soak.workers = [soak.start_worker(n) for n in range(2)]
    try:
        started = time.monotonic()
        stats = asyncio.run(soak.run(ops, kills=kills, pg=pg))
        elapsed = time.monotonic() - started
    finally:
        stop_servers([server])
        soak.stop_workers()
        receiver.stop()
    report = verify(soak, db_url)
    return {
        "database": "sqlite" if db_url.startswith("sqlite") else "postgresql",
        "operations": stats.ops,
        "by_operation": stats.by_op,
        "cards": len(soak.all_cards),
        **soak.settled,
        "server_kills": stats.kills,
        "worker_kills": stats.worker_kills,
        "database_restarts": stats.db_restarts,
        "retries": stats.retried,
        "model_checks_passed": stats.checks,
        "ledger_verify": report.get("ok"),
        "transfers": report.get("transfers"),
        "recovery_seconds_max": round(max(stats.recovery), 2) if stats.recovery else None,
        "recovery_seconds_mean": round(sum(stats.recovery) / len(stats.recovery), 2) if stats.recovery else None,
        "seconds": round(elapsed, 1),
        "ops_per_second": round(stats.ops / elapsed, 1),
    }


def main() -> None:
    from tests import pg

    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=1_000_000, help="operations on each database")
    parser.add_argument("--kills", type=int, default=100, help="kill -9 of the server on each database")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--out", type=Path, default=Path("soak-results.json"))
    args = parser.parse_args()
    import tempfile

    results = []
    secret = "soak-secret-key-0123456789-abcdefghijklmnop"
    with tempfile.TemporaryDirectory(prefix="giftwell-soak-") as tmp:
        root = Path(tmp)
        if args.db in ("sqlite", "both"):
            results.append(
                run_soak(
                    f"sqlite:///{root / 'sqlite' / 'giftwell.db'}",
                    root / "sqlite",
                    ops=args.ops,
                    kills=args.kills,
                    clients=args.clients,
                    seed=args.seed,
                    secret=secret,
                )
            )
            print(json.dumps(results[-1]), flush=True)
        if args.db in ("postgresql", "both"):
            server = pg.start(durable=True)
            try:
                import asyncpg

                async def create() -> None:
                    conn = await asyncpg.connect(server.url("postgres"))
                    await conn.execute("CREATE DATABASE soak")
                    await conn.close()

                asyncio.run(create())
                (root / "pg").mkdir()
                results.append(
                    run_soak(
                        server.url("soak"),
                        root / "pg",
                        ops=args.ops,
                        kills=args.kills,
                        clients=args.clients,
                        seed=args.seed,
                        pg=server,
                        secret=secret,
                    )
                )
                print(json.dumps(results[-1]), flush=True)
            finally:
                server.stop()
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.out}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
