"""Where a redemption's CPU goes: `python -m bench.breakdown [postgresql|sqlite]`.

A single Giftwell process is CPU-bound long before its database is (see docs/benchmarks.md), so
this measures CPU time per operation (`time.process_time`), one operation at a time, in layers:

  1. the whole application, called as ASGI (no HTTP server, no sockets): ping and redeem;
  2. the two units of work a redemption request runs: the token check, and the redemption itself
     (service call and commit), with the time inside each SQL statement's execute;
  3. (PostgreSQL) one guarded UPDATE four ways: built per call from the ORM classes as the services
     do, built per call from the Core tables, built once and executed with parameters, and raw
     asyncpg: what statement building and SQLAlchemy's execution layer cost.

It patches `AsyncConnection.execute` and `commit` to time them: a profiling tool, not a test.
"""

from __future__ import annotations

import asyncio
import collections
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import sqlalchemy as sa
import uvloop
from sqlalchemy.ext.asyncio import AsyncConnection
from tests import factories, pg

from giftwell.app import create_app
from giftwell.services.access import tokens
from giftwell.services.cards import money as card_money
from giftwell.services.runtime import Runtime
from giftwell.settings import load_settings
from giftwell.store import migrate
from giftwell.store.engine import create_engine
from giftwell.store.models import LedgerAccount

WARMUP, N = 100, 1000


async def cpu_per_call(fn: Callable[[], Awaitable[Any]], n: int = N) -> float:
    """Microseconds of this process's CPU per call, after a warm-up."""
    for _ in range(WARMUP):
        await fn()
    start = time.process_time()
    for _ in range(n):
        await fn()
    return (time.process_time() - start) / n * 1e6


class StatementTimer:
    """CPU spent inside `AsyncConnection.execute` (per statement kind) and `commit`."""

    def __init__(self) -> None:
        self.spent: collections.Counter[str] = collections.Counter()

    @contextmanager
    def patched(self) -> Iterator[None]:
        execute, commit = AsyncConnection.execute, AsyncConnection.commit
        spent = self.spent

        async def timed_execute(conn: AsyncConnection, stmt: Any, *args: Any, **kw: Any) -> Any:
            start = time.process_time()
            try:
                return await execute(conn, stmt, *args, **kw)
            finally:
                spent[_label(stmt)] += time.process_time() - start

        async def timed_commit(conn: AsyncConnection) -> None:
            start = time.process_time()
            try:
                await commit(conn)
            finally:
                spent["COMMIT"] += time.process_time() - start

        AsyncConnection.execute = timed_execute  # type: ignore[method-assign]
        AsyncConnection.commit = timed_commit  # type: ignore[method-assign]
        try:
            yield
        finally:
            AsyncConnection.execute = execute  # type: ignore[method-assign]
            AsyncConnection.commit = commit  # type: ignore[method-assign]


def _label(stmt: Any) -> str:
    table = getattr(stmt, "table", None)
    if table is not None:
        return f"{stmt.__visit_name__.upper()} {table.name}"
    froms = getattr(stmt, "columns_clause_froms", None) or []
    return "SELECT " + " JOIN ".join(getattr(f, "name", "?") for f in froms)


def asgi_call(app: Any, method: str, path: str, token: str, body: bytes = b"") -> Callable[[], Awaitable[None]]:
    """A function that sends one request straight to the ASGI app and checks it succeeded."""
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"host", b"bench")]
    if body:
        headers.append((b"content-type", b"application/json"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def call() -> None:
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(scope), receive, send)
        if status >= 300:
            raise RuntimeError(f"{method} {path} answered {status}")

    return call


async def measure(url: str, *, migrate_first: bool) -> list[tuple[str, float]]:
    settings = load_settings(database_url=url, secret_key=secrets.token_urlsafe(32), data_dir=Path(tempfile.mkdtemp()))
    app = create_app(settings)
    rt: Runtime = app.state.runtime
    if migrate_first:
        await migrate.upgrade(rt.engine)
    t = await factories.tenant(rt)
    card = (await factories.card(rt, t.account_id, amount=10**12)).card
    rows: list[tuple[str, float]] = []

    async def auth() -> None:
        async with rt.uow() as uow:
            await tokens.authenticate(uow, t.token)

    async def redeem() -> None:
        async with rt.uow() as uow:
            await card_money.redeem(uow, account_id=t.account_id, card_id=card.id, amount=1)
            await uow.commit()

    redeem_body = orjson.dumps({"amount": 1})
    rows.append(
        (
            "ASGI GET /v1/ping (whole app, no HTTP server)",
            await cpu_per_call(asgi_call(app, "GET", "/v1/ping", t.token)),
        )
    )
    rows.append(
        (
            "ASGI POST /v1/cards/{id}/redeem",
            await cpu_per_call(asgi_call(app, "POST", f"/v1/cards/{card.id}/redeem", t.token, redeem_body)),
        )
    )
    for name, fn in (("token check (its own unit of work)", auth), ("redemption unit of work, with commit", redeem)):
        timer = StatementTimer()
        with timer.patched():
            total = await cpu_per_call(fn)
        rows.append((name, total))
        for stmt, spent in timer.spent.most_common():
            rows.append((f"    in execute: {stmt}", spent / (N + WARMUP) * 1e6))
    if rt.engine.dialect.name == "postgresql":
        rows += await _statement_costs(rt, url, card.ledger_account_id)
    await rt.close()
    return rows


async def _statement_costs(rt: Runtime, url: str, la_id: str) -> list[tuple[str, float]]:
    """One guarded UPDATE of a card's balance, four ways, on one connection."""
    la, t = LedgerAccount, LedgerAccount.__table__
    prebuilt = (
        sa.update(t)
        .where(t.c.id == sa.bindparam("la"), t.c.balance - t.c.pending_out >= sa.bindparam("amt"))
        .values(balance=t.c.balance - sa.bindparam("amt"))
        .returning(t.c.balance, t.c.pending_out)
    )
    raw_sql = (
        "UPDATE ledger_accounts SET balance = balance - $2 WHERE id = $1 AND balance - pending_out >= $2 "
        "RETURNING balance, pending_out"
    )
    rows = []
    async with rt.engine.connect() as conn:

        def orm() -> Any:
            return conn.execute(
                sa.update(la)
                .where(la.id == la_id, la.balance - la.pending_out >= 1)
                .values(balance=la.balance - 1)
                .returning(la.balance, la.pending_out)
            )

        def core() -> Any:
            return conn.execute(
                sa.update(t)
                .where(t.c.id == la_id, t.c.balance - t.c.pending_out >= 1)
                .values(balance=t.c.balance - 1)
                .returning(t.c.balance, t.c.pending_out)
            )

        rows.append(("one guarded UPDATE, built per call from ORM classes (as now)", await cpu_per_call(orm)))
        rows.append(("  same, built per call from the Core table", await cpu_per_call(core)))
        rows.append(
            (
                "  same, built once, executed with parameters",
                await cpu_per_call(lambda: conn.execute(prebuilt, {"la": la_id, "amt": 1})),
            )
        )
        await conn.rollback()
    raw = await asyncpg.connect(url)
    try:
        rows.append(
            ("  same, raw asyncpg (no SQLAlchemy)", await cpu_per_call(lambda: raw.fetchrow(raw_sql, la_id, 1)))
        )
    finally:
        await raw.close()
    return rows


def main() -> int:
    backend = sys.argv[1] if len(sys.argv) > 1 else "postgresql"
    server = None
    try:
        if backend == "postgresql":
            server = pg.start(durable=True)
            asyncio.run(_create_db(server))
            url, migrate_first = server.url("breakdown"), False
        else:
            url, migrate_first = f"sqlite:///{tempfile.mkdtemp()}/breakdown.db", True
        rows = uvloop.run(measure(url, migrate_first=migrate_first))
    finally:
        if server is not None:
            server.stop()
    print(f"CPU per operation, {backend}, one at a time ({N} each after {WARMUP} warm-up):")
    for name, us in rows:
        print(f"{us:9,.0f} us  {name}")
    return 0


async def _create_db(server: pg.PgServer) -> None:
    conn = await asyncpg.connect(server.url("postgres"))
    try:
        await conn.execute("CREATE DATABASE breakdown")
    finally:
        await conn.close()
    engine = create_engine(server.url("breakdown"))
    await migrate.upgrade(engine)
    await engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
