"""The card query over many cards on PostgreSQL (`make bench`, or alone: `python -m bench.card_query`).

The cards are made in bulk with SQL (`generate_series`) in one account: each with a recipient
(a name of two pseudo-words and an email shared by about five cards), one in ten also emailed
later to another address (a delivery), and each card's searchable text as the services write it.

Measured through the service (`services.cards.query.query_cards`, the call `POST /v1/cards/query`
and the Wix dialect make), one page of 20 cards, newest first:
- query by recipient email (`{"recipient_email": {"eq": ...}}`: the card's own address and every
  delivery's), a random generated address each time;
- text search by name (`{"text": {"search": "<last name>"}}`: the trigram index), a random
  generated last name each time;
each run `BENCH_QUERY_RUNS` times (200) after a warm-up, with p50 and p99 in milliseconds, and
`EXPLAIN (ANALYZE)` of one run of each, which must use the indexes (no sequential scan of cards,
deliveries or card_search). The target is p99 under 50 ms (a figure, not a timed test).

Settings (environment): BENCH_QUERY_CARDS (1000000), BENCH_QUERY_RUNS (200), BENCH_PG_DURABLE (1).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa
from tests import pg

from bench import report
from giftwell.app import build_runtime
from giftwell.services.cards import query as card_query
from giftwell.settings import load_settings
from giftwell.store import migrate

TARGET_MS = 50.0
ACCOUNT = "acct_bench_query"
OTHER = "acct_bench_other"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
FIRSTS = 5_000  # distinct first names
LASTS = 20_000  # distinct last names: about N / 20,000 cards share one
EMAILS_PER = 5  # cards per recipient address

GENERATE = [
    f"""INSERT INTO accounts (id, name, is_operator, created_at) VALUES
        ('{ACCOUNT}', 'bench-query', false, '{NOW.isoformat()}'),
        ('{OTHER}', 'bench-other', false, '{NOW.isoformat()}')""",
    """CREATE TEMP TABLE gen AS
        SELECT g,
               CASE WHEN g % 7 = 0 THEN '{other}' ELSE '{account}' END AS acct,
               substr(md5('f' || (g % {firsts})), 1, 6) || ' ' || substr(md5('l' || (g % {lasts})), 1, 8) AS name,
               'r' || (g / {per}) || '@mail' || (g % 50) || '.example' AS email,
               CASE WHEN g % 10 = 0 THEN 'later' || g || '@post.example' END AS later,
               lpad((g % 10000)::text, 4, '0') AS last4,
               '{now}'::timestamptz - make_interval(secs => g) AS at
          FROM generate_series(1, {cards}) g""",
    """INSERT INTO ledger_accounts (id, account_id, kind, currency, balance, pending_out, created_at)
        SELECT 'la_q' || g, acct, 'card', 'EUR', 1000 + g % 5000, 0, at FROM gen""",
    """INSERT INTO cards (id, account_id, ledger_account_id, code_hash, code_encrypted, code_last4, currency,
                          initial_amount, status, source, test, activated_at, created_at, updated_at, metadata,
                          recipient_name, recipient_email)
        SELECT 'card_q' || g, acct, 'la_q' || g, md5('c' || g) || md5('d' || g), '\\x00'::bytea, last4, 'EUR',
               5000, 'active', 'manual', false, at, at, at, '{{}}'::jsonb, name, email
          FROM gen""",
    """INSERT INTO deliveries (id, account_id, card_account_id, card_id, source, channel, to_address,
                               recipient_name, status, attempts, scheduled_at, created_at, updated_at, sent_at)
        SELECT 'dlv_q' || g, acct, acct, 'card_q' || g, 'send', 'email', later, name, 'sent', 1, at, at, at, at
          FROM gen WHERE later IS NOT NULL""",
    """INSERT INTO card_search (card_id, account_id, body)
        SELECT 'card_q' || g, acct, concat_ws(E'\\n', name, email, last4, later) FROM gen""",
    "ANALYZE",
]


class Captured:
    """The last statement SQLAlchemy sent, with its parameters (asyncpg's `$1` form)."""

    def __init__(self) -> None:
        self.statement = ""
        self.parameters: Any = ()

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        self.statement, self.parameters = statement, parameters


async def _explain(conn: asyncpg.Connection, captured: Captured) -> list[str]:
    rows = await conn.fetch("EXPLAIN (ANALYZE, COSTS OFF) " + captured.statement, *captured.parameters)
    return [r[0] for r in rows]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _measure(server: pg.PgServer, cards: int, runs: int, workdir: Path) -> dict[str, Any]:
    admin = await asyncpg.connect(server.url("postgres"))
    try:
        await admin.execute("CREATE DATABASE cardquery")
    finally:
        await admin.close()
    settings = load_settings(
        database_url=server.url("cardquery"), data_dir=workdir / "var", secret_key="bench-card-query-" + "x" * 32
    )
    rt = build_runtime(settings, clock=lambda: NOW)
    conn = await asyncpg.connect(server.url("cardquery"))
    captured = Captured()
    sa.event.listen(rt.engine.sync_engine, "before_cursor_execute", captured)
    try:
        await migrate.upgrade(rt.engine)
        t0 = time.perf_counter()
        for template in GENERATE:
            sql = template.format(
                account=ACCOUNT,
                other=OTHER,
                firsts=FIRSTS,
                lasts=LASTS,
                per=EMAILS_PER,
                now=NOW.isoformat(),
                cards=cards,
            )
            await conn.execute(sql)
        report.progress(f"  generated {cards:,} cards in {time.perf_counter() - t0:.0f} s")
        rng = random.Random(14)

        def by_email() -> dict[str, Any]:
            g = rng.randrange(1, cards)
            return {"recipient_email": {"eq": f"r{g // EMAILS_PER}@mail{g % 50}.example"}}

        def by_name() -> dict[str, Any]:
            word = hashlib.md5(f"l{rng.randrange(LASTS)}".encode()).hexdigest()[:8]
            return {"text": {"search": word}}

        out: dict[str, Any] = {"cards": cards, "runs": runs}
        for name, make in (("recipient_email", by_email), ("text_search_name", by_name)):
            times: list[float] = []
            found = 0
            for i in range(runs + 10):
                query = card_query.prepare(make())
                t1 = time.perf_counter()
                async with rt.reader() as uow:
                    page = await card_query.query_cards(uow, account_id=ACCOUNT, query=query, limit=20)
                if i >= 10:  # the first ten warm the caches
                    times.append((time.perf_counter() - t1) * 1000)
                    found += len(page.data)
            plan = await _explain(conn, captured)
            text = "\n".join(plan)
            out[name] = {
                "p50_ms": _percentile(times, 50),
                "p99_ms": _percentile(times, 99),
                "max_ms": max(times),
                "cards_per_page": found / runs,
                "plan": plan,
                "seq_scan": any(f"Seq Scan on {t}" in text for t in ("cards", "deliveries", "card_search")),
            }
            report.progress(
                f"  {name}: p50 {out[name]['p50_ms']:.1f} ms, p99 {out[name]['p99_ms']:.1f} ms "
                f"({out[name]['cards_per_page']:.1f} cards a page); "
                f"{'SEQUENTIAL SCAN' if out[name]['seq_scan'] else 'indexes only'}"
            )
        return out
    finally:
        sa.event.remove(rt.engine.sync_engine, "before_cursor_execute", captured)
        await conn.close()
        await rt.close()


def measure(workdir: Path, *, durable: bool = True) -> dict[str, Any]:
    cards = int(os.environ.get("BENCH_QUERY_CARDS", "1000000"))
    runs = int(os.environ.get("BENCH_QUERY_RUNS", "200"))
    report.progress(f"card query over {cards:,} cards (postgresql):")
    server = pg.start(durable=durable)
    try:
        return asyncio.run(_measure(server, cards, runs, workdir))
    finally:
        server.stop()


def lines(r: dict[str, Any]) -> list[str]:
    out = [f"Card query over {r['cards']:,} cards (PostgreSQL; one page of 20; target p99 < {TARGET_MS:.0f} ms):"]
    for name, label in (("recipient_email", "by recipient email"), ("text_search_name", "text search by name")):
        x = r[name]
        out.append(f"  {label}: p50 {x['p50_ms']:.1f} ms, p99 {x['p99_ms']:.1f} ms, max {x['max_ms']:.1f} ms")
    return out


def plans(r: dict[str, Any]) -> list[str]:
    out = []
    for name in ("recipient_email", "text_search_name"):
        out += ["", f"EXPLAIN (ANALYZE) {name}:", *r[name]["plan"]]
    return out


def problems(r: dict[str, Any]) -> list[str]:
    found = []
    for name in ("recipient_email", "text_search_name"):
        if r[name]["p99_ms"] >= TARGET_MS:
            found.append(f"card query {name}: p99 {r[name]['p99_ms']:.0f} ms over {r['cards']:,} cards (target 50 ms)")
        if r[name]["seq_scan"]:
            found.append(f"card query {name}: the plan scans a table sequentially")
    return found


if __name__ == "__main__":
    report.run_alone(measure, lines, problems, prefix="giftwell-card-query-", details=plans)
