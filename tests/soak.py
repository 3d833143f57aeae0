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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests import soak_checks
from tests.receivers import Receiver
from tests.servers import Server, cli, giftwell_env, start_servers, stop_servers, wait_healthy
from tests.soak_mail import SMTP_TIMEOUT, Mail, SmtpPeer
from tests.soak_orders import FlakyReceiver, Orders, prepare_orders

# The sender's timeout for a webhook delivery; the receiver leaves some hanging past it.
WEBHOOK_TIMEOUT = 1.0

CURRENCY = "EUR"
DEFINITE = {200, 201, 202, 402, 404, 409, 422}
# A card issued with a near `expires_at` is left alone from a second before its date until this
# long after it (the server's and the client's clocks are the same machine's); past that, the
# model has it expired, its balance moved to breakage.
EXPIRY_GRACE = 1.5
PROGRESS_SECONDS = 10.0


@dataclass
class CardModel:
    id: str
    balance: int
    blocked: bool = False
    was_blocked: bool = False  # blocked at some point: a delivery still pending then fails
    holds: dict[str, int] = field(default_factory=dict)  # open hold transfer id -> amount
    refundable: dict[str, int] = field(default_factory=dict)  # redemption id -> amount left
    transfers: int = 1  # acknowledged transfers touching the card (its issue is the first)
    expires_at: float | None = None  # epoch seconds
    expired: bool = False  # in the model: past its date and its grace
    breakage: int = 0  # what its expiry moved to breakage, in the model

    def unsure(self, now: float) -> bool:
        """Too near its date (or past it) for an operation or a check to have one expected outcome."""
        return self.expires_at is not None and (self.expired or now >= self.expires_at - 1.0)

    def expire_if_due(self, now: float) -> None:
        if self.expires_at is None or self.expired or now < self.expires_at + EXPIRY_GRACE:
            return
        # Its holds are voided (the posted balance does not change), then the posted balance
        # moves to breakage by one `expire` transfer (none when it is zero).
        self.expired = True
        self.breakage = self.balance
        self.transfers += 1 if self.balance else 0
        self.balance = 0
        self.holds.clear()
        self.refundable.clear()

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
    verifies: int = 0  # `ledger verify` passed in the run (at kills, while nothing writes)
    expired: int = 0
    recovery: list[float] = field(default_factory=list)  # SIGKILL to /healthz of the new server
    first_ok: list[float] = field(default_factory=list)  # SIGKILL to the first acknowledged request
    jobs_resumed: list[float] = field(default_factory=list)  # SIGKILL to the first job finished after it
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
        self.mail: Mail | None = None
        self.db_url = ""
        self.killed_at: float | None = None  # the last kill, until the first acknowledged request
        self.total = 0
        self.phases: dict[str, float] = {}  # seconds from the start at which each part ended

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
                if self.killed_at is not None and r.status_code < 300:
                    self.stats.first_ok.append(time.monotonic() - self.killed_at)
                    self.killed_at = None
                return r.status_code, r.json()
            if r.status_code in (500, 502, 503, 504):
                self.stats.retried += 1
                await asyncio.sleep(0.1 * min(attempt + 1, 20))
                continue
            raise AssertionError(f"{method} {path}: unexpected {r.status_code} {r.text[:300]}")
        raise AssertionError(f"{method} {path}: no definite answer")

    # -- operations -------------------------------------------------------------------------------

    async def issue(self, http: httpx.AsyncClient, mine: list[CardModel]) -> None:
        """A card; one in eight expiring a few seconds from now (during the run), one in five of
        the rest sent by email to the flaky SMTP server."""
        amount = self.rng.randint(1_000, 50_000)
        body: dict[str, Any] = {"currency": CURRENCY, "amount": amount}
        expires: float | None = None
        note: dict[str, Any] | None = None
        roll = self.rng.random()
        if roll < 0.12:
            expires = time.time() + self.rng.uniform(3, 30)
            body["expires_at"] = datetime.fromtimestamp(expires, UTC).isoformat()
        elif roll < 0.30 and self.mail is not None:
            note = body["notification"] = self.mail.notification(self.rng)
        status, doc = await self.call(http, "POST", "/v1/cards", body)
        if status == 422 and expires is not None and time.time() >= expires:
            return  # its date passed while the answer was lost to a fault: nothing issued
        assert status == 201, doc
        mine.append(CardModel(doc["id"], amount, expires_at=expires))
        if note is not None and self.mail is not None:
            self.mail.record(doc["id"], doc, note)

    async def step(self, http: httpx.AsyncClient, c: int) -> str:
        mine = self.cards[c]
        now = time.time()
        for card in mine:
            card.expire_if_due(now)
        live = [card for card in mine if not card.unsure(now)]
        roll = self.rng.random()
        if roll < 0.02:
            return await self.orders.place(http, c)
        if roll < 0.03:
            return await self.orders.cancel(http, c)
        if len(live) < 3 or self.rng.random() < 0.03:
            await self.issue(http, mine)
            return "issue"
        card = self.rng.choice(live)
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
            other = self.rng.choice(live)
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
                card.was_blocked = True
            return action
        await self.check_card(http, self.rng.choice(mine))
        return "check"

    async def check_card(self, http: httpx.AsyncClient, card: CardModel) -> None:
        """The card read back agrees with the model to the cent (an expired one: expired, zero)."""
        if card.unsure(time.time()) and not card.expired:
            return
        status, doc = await self.call(http, "GET", f"/v1/cards/{card.id}")
        assert status == 200, doc
        if card.expired:
            got: tuple[Any, ...] = (doc["status"], doc["balance"], doc["available"])
            assert got == ("expired", 0, 0), (card.id, got, card)
        else:
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
        """SIGKILL the server; while it is down (and, on PostgreSQL, the workers paused: nothing
        writes), `ledger verify` must pass; then start it again on the same port."""
        self.restarting.clear()
        try:
            self.server.proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            self.server.proc.wait(timeout=30)
            await asyncio.to_thread(self.verify_paused)
            paused = time.monotonic() - killed
            started = time.monotonic()
            await asyncio.to_thread(self._restart)
            self.stats.recovery.append(time.monotonic() - started)
            self.stats.kills += 1
            # Measured from the kill, less the pause for the check (not part of recovering).
            self.killed_at = killed + paused
            asyncio.get_running_loop().create_task(self.time_jobs_resumed(killed + paused))
        finally:
            self.restarting.set()

    def verify_paused(self) -> None:
        for proc in self.workers:
            proc.send_signal(signal.SIGSTOP)
        try:
            code, report = cli(self.env, "ledger", "verify", check=False)
            assert (code, report.get("ok")) == (0, True), f"ledger verify in the run: {report}"
            self.stats.verifies += 1
        finally:
            for proc in self.workers:
                proc.send_signal(signal.SIGCONT)

    async def time_jobs_resumed(self, since: float) -> None:
        """The time from a kill to the first job finished after the restart (an upper bound:
        it includes waiting for a job to be due)."""
        wall = time.time() - (time.monotonic() - since)
        after = datetime.fromtimestamp(wall, UTC)
        for _ in range(600):
            try:
                if await asyncio.to_thread(soak_checks.jobs_finished_since, self.db_url, after):
                    self.stats.jobs_resumed.append(time.monotonic() - since)
                    return
            except Exception:  # the database restarting: try again
                pass
            await asyncio.sleep(0.2)

    def start_worker(self, n: int) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"worker-{n}.log").open("ab")
        cmd = [sys.executable, "-m", "giftwell", "worker", "--concurrency", "4", "--poll-interval", "0.5"]
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

    async def report_progress(self, started: float) -> None:
        """A line every PROGRESS_SECONDS on stderr: how far, how fast, the faults so far."""
        while True:
            await asyncio.sleep(PROGRESS_SECONDS)
            s, elapsed = self.stats, time.monotonic() - started
            rate = s.ops / elapsed if elapsed else 0.0
            eta = (self.total - s.ops) / rate if rate else float("inf")
            print(
                f"[soak {self.db_url.split(':', 1)[0]}] {s.ops:,}/{self.total:,} ops"
                f" ({100 * s.ops / max(1, self.total):.1f}%), {rate:.0f} ops/s, eta {eta / 60:.1f} min;"
                f" kills {s.kills} (workers {s.worker_kills}), db restarts {s.db_restarts},"
                f" checks {s.checks}, verifies {s.verifies}, retries {s.retried}",
                file=sys.stderr,
                flush=True,
            )

    async def run(self, ops: int, *, kills: int, pg: Any = None) -> Stats:
        per_client = ops // self.clients
        self.total = per_client * self.clients
        async with httpx.AsyncClient(base_url=self.server.url, timeout=30) as http:
            await self.orders.subscribe(http)
        begun = time.monotonic()
        chaos = asyncio.create_task(self.faults(kills, self.total, pg))
        progress = asyncio.create_task(self.report_progress(time.monotonic()))
        try:
            await asyncio.gather(*(self.client(c, per_client) for c in range(self.clients)))
        except BaseException:
            chaos.cancel()
            raise
        finally:
            progress.cancel()
        await chaos
        self.phases["workload"] = round(time.monotonic() - begun, 1)
        # Every expiring card past its date and grace, then every card read back.
        last = max((c.expires_at for c in self.all_cards if c.expires_at is not None), default=0.0)
        await asyncio.sleep(max(0.0, last + EXPIRY_GRACE - time.time()))
        for card in self.all_cards:
            card.expire_if_due(time.time())
        self.stats.expired = sum(c.expired for c in self.all_cards)
        deadline = time.monotonic() + 300
        async with httpx.AsyncClient(base_url=self.server.url, timeout=30) as http:
            for card in self.all_cards:
                await self.check_card(http, card)
            self.phases["cards_checked"] = round(time.monotonic() - begun, 1)
            self.settled = await self.orders.settle(http)
            self.phases["orders_final"] = round(time.monotonic() - begun, 1)
            if self.mail is not None:
                self.settled |= await self.mail.settle(http, deadline)
                self.phases["mail_final"] = round(time.monotonic() - begun, 1)
        return self.stats

    @property
    def all_cards(self) -> list[CardModel]:
        return [card for mine in self.cards for card in mine]


def verify(soak: Soak, db_url: str) -> dict[str, Any]:
    """The end of a run: the ledger verifies; every card has exactly the transfers the model
    acknowledged (none lost, none doubled); each expired card moved the model's balance to
    breakage; every job is done or dead with a reason."""
    code, report = cli(soak.env, "ledger", "verify", check=False)
    assert (code, report.get("ok")) == (0, True), report
    counts = soak_checks.transfer_counts(db_url)
    wrong = {c.id: (c.transfers, counts.get(c.id, 0)) for c in soak.all_cards if counts.get(c.id, 0) != c.transfers}
    assert not wrong, f"transfers per card (model, database) disagree: {list(wrong.items())[:10]}"
    breakage = soak_checks.breakage_by_card(db_url)
    mine = {c.id: c.breakage for c in soak.all_cards if c.expired and c.breakage}
    theirs = {k: v for k, v in breakage.items() if k in {c.id for c in soak.all_cards}}
    assert mine == theirs, f"breakage per card (model, database): {mine} {theirs}"
    report["breakage"] = sum(mine.values())
    report |= soak_checks.jobs_final(db_url, wait=120)
    return report


def prepare(
    db_url: str, data_dir: Path, secret: str, smtp_url: str, sqlite_synchronous: str = "NORMAL"
) -> tuple[dict[str, str], str]:
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
        GIFTWELL_SMTP_URL=smtp_url,
        GIFTWELL_SMTP_TIMEOUT_SECONDS=str(SMTP_TIMEOUT),
        GIFTWELL_MAIL_FROM="Soak <soak@soak.example>",
        GIFTWELL_SWEEP_INTERVAL_SECONDS="5",
        # NORMAL in WAL mode loses nothing when a process is killed (only when the machine
        # loses power), and the soak kills processes; FULL waits ~3 ms for an fsync at every
        # commit on one connection, which made SQLite's throughput latency-bound.
        GIFTWELL_SQLITE_SYNCHRONOUS=sqlite_synchronous,
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


def summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "max": None}
    return {"mean": round(sum(values) / len(values), 2), "max": round(max(values), 2)}


def run_soak(
    db_url: str,
    workdir: Path,
    *,
    ops: int,
    kills: int,
    clients: int,
    seed: int,
    secret: str,
    pg: Any = None,
    sqlite_synchronous: str = "NORMAL",
) -> dict[str, Any]:
    smtp = SmtpPeer().start()
    env, token = prepare(db_url, workdir / "var", secret, smtp.url, sqlite_synchronous)
    receiver = FlakyReceiver(random.Random(seed + 1), WEBHOOK_TIMEOUT).start()
    [server] = start_servers(env, 1, workdir)
    soak = Soak(server, env, token, seed=seed, clients=clients, receiver=receiver)
    soak.mail = Mail(soak, smtp)
    soak.db_url = db_url
    if not db_url.startswith("sqlite"):
        soak.workers = [soak.start_worker(n) for n in range(2)]
    try:
        started = time.monotonic()
        stats = asyncio.run(soak.run(ops, kills=kills, pg=pg))
        elapsed = time.monotonic() - started
        report = verify(soak, db_url)
    finally:
        stop_servers([server])
        soak.stop_workers()
        receiver.stop()
        smtp.stop()
    return {
        "database": "sqlite" if db_url.startswith("sqlite") else "postgresql",
        "operations": stats.ops,
        "by_operation": stats.by_op,
        "cards": len(soak.all_cards),
        "cards_expired": stats.expired,
        "breakage": report["breakage"],
        **soak.settled,
        "jobs": report["jobs"],
        "server_kills": stats.kills,
        "worker_kills": stats.worker_kills,
        "database_restarts": stats.db_restarts,
        "retries": stats.retried,
        "model_checks_passed": stats.checks,
        "ledger_verifies_in_run": stats.verifies,
        "ledger_verify": report.get("ok"),
        "transfers": report.get("transfers"),
        "recovery_to_healthz_seconds": summary(stats.recovery),
        "kill_to_first_acknowledged_seconds": summary(stats.first_ok),
        "kill_to_first_job_finished_seconds": summary(stats.jobs_resumed),
        "seconds": round(elapsed, 1),
        "phases": soak.phases,
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
    parser.add_argument(
        "--sqlite-synchronous",
        choices=("NORMAL", "FULL"),
        default="NORMAL",
        help="SQLite's PRAGMA synchronous (NORMAL: durable against killed processes, the soak's faults)",
    )
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
                    sqlite_synchronous=args.sqlite_synchronous,
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
