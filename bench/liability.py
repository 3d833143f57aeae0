"""The liability report over 1,000,000 cards on PostgreSQL (`make bench`, or alone:
`python -m bench.liability`).

The cards are made in bulk with SQL (`generate_series`), as a ledger would hold them after three
months of business: one issuer, cards in EUR and USD activated over 90 days, half of them partly
redeemed ten days after activation. Running balances, transfers and the double entries agree, so
`ledger verify`'s view and the report's are the same.

Measured through the service (`services.reports.liability`), the same call the API and the
dashboard make: the liability now and at an instant 30 days back (which reads the transfers
since), each the median of three runs, against a baseline in the same run: PostgreSQL summing
the same card balances in one bare query. Server CPU per report is PostgreSQL's own (the
backends' utime and stime from /proc). The report must stay under 5 s and match the totals the
generator put in.

Settings (environment): BENCH_LIABILITY_CARDS (1000000), BENCH_PG_DURABLE (1).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from tests import pg

from bench import report
from giftwell.app import build_runtime
from giftwell.services.reports import liability
from giftwell.settings import load_settings
from giftwell.store import migrate

LIMIT_SECONDS = 5.0
ACCOUNT = "acct_bench_liability"
DAY = 86_400
NOW = datetime(2026, 6, 1, tzinfo=UTC)
START = NOW - timedelta(days=90)

# Card g (1..N): USD when g % 10 = 0, else EUR; value 1000 + (g % 50) * 100 minor units,
# activated at START + (g % 90) days + g seconds % 86400; even cards redeem 500 ten days later
# (when that is before NOW).
GENERATE = [
    f"""INSERT INTO accounts (id, name, is_operator, created_at)
        VALUES ('{ACCOUNT}', 'bench-liability', false, '{START.isoformat()}')""",
    f"""INSERT INTO ledger_accounts (id, account_id, kind, currency, balance, pending_out, created_at)
        SELECT 'la_' || k || '_' || c, '{ACCOUNT}', k, c, NULL, 0, '{START.isoformat()}'
          FROM unnest(ARRAY['issuance', 'redemption']) k, unnest(ARRAY['EUR', 'USD']) c""",
    """CREATE TEMP TABLE gen AS
        SELECT g, cur, value, at,
               CASE WHEN g % 2 = 0 AND at + interval '10 days' <= '{now}'::timestamptz THEN 500 ELSE 0 END AS spent
          FROM (SELECT g,
                       CASE WHEN g % 10 = 0 THEN 'USD' ELSE 'EUR' END AS cur,
                       1000 + (g % 50) * 100 AS value,
                       '{start}'::timestamptz + make_interval(days => g % 90, secs => g % 86400) AS at
                  FROM generate_series(1, {cards}) g) s""",
    f"""INSERT INTO ledger_accounts (id, account_id, kind, currency, balance, pending_out, created_at)
        SELECT 'la_c' || g, '{ACCOUNT}', 'card', cur, value - spent, 0, at FROM gen""",
    f"""INSERT INTO cards (id, account_id, ledger_account_id, code_hash, code_encrypted, code_last4, currency,
                           initial_amount, status, source, test, activated_at, created_at, updated_at, metadata)
        SELECT 'card_b' || g, '{ACCOUNT}', 'la_c' || g, md5('c' || g) || md5('d' || g), '\\x00'::bytea,
               lpad((g % 10000)::text, 4, '0'), cur, value, 'active', 'manual', false, at, at, at, '{{}}'::jsonb
          FROM gen""",
    f"""INSERT INTO transfers (id, account_id, kind, status, currency, amount, debit_account_id, credit_account_id,
                               card_id, credit_balance_after, refunded_amount, created_at, posted_at)
        SELECT 'trf_a' || g, '{ACCOUNT}', 'activate', 'posted', cur, value, 'la_issuance_' || cur, 'la_c' || g,
               'card_b' || g, value, 0, at, at
          FROM gen""",
    f"""INSERT INTO transfers (id, account_id, kind, status, currency, amount, debit_account_id, credit_account_id,
                               card_id, debit_balance_after, refunded_amount, created_at, posted_at)
        SELECT 'trf_r' || g, '{ACCOUNT}', 'redeem', 'posted', cur, spent, 'la_c' || g, 'la_redemption_' || cur,
               'card_b' || g, value - spent, 0, at + interval '10 days', at + interval '10 days'
          FROM gen WHERE spent > 0""",
    "ANALYZE",
]
# What the generator put on the cards, per currency, at an instant: the expected report.
EXPECTED = """SELECT cur,
                     sum(value - CASE WHEN at + interval '10 days' <= $1 THEN spent ELSE 0 END)::bigint AS amount,
                     count(*) AS cards
                FROM gen WHERE at <= $1 GROUP BY cur ORDER BY cur"""
BASELINE = f"SELECT currency, sum(balance) FROM ledger_accounts WHERE account_id = '{ACCOUNT}' AND kind = 'card' GROUP BY currency"


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of each postgres process so far, by pid."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() != "postgres":
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(proc.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def _cpu_since(before: dict[int, float]) -> float:
    """PostgreSQL CPU spent since `before` (a process that ended meanwhile is not counted)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in _postgres_cpu().items())


async def _timed(fn: Any, runs: int = 3) -> tuple[float, float, Any]:
    """Median wall seconds, median PostgreSQL CPU seconds, last result."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        cpu0, t0 = _postgres_cpu(), time.perf_counter()
        result = await fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu_since(cpu0))
    return statistics.median(walls), statistics.median(cpus), result


async def _measure(server: pg.PgServer, cards: int, workdir: Path) -> dict[str, Any]:
    admin = await asyncpg.connect(server.url("postgres"))
    try:
        await admin.execute("CREATE DATABASE liability")
    finally:
        await admin.close()
    settings = load_settings(
        database_url=server.url("liability"), data_dir=workdir / "var", secret_key="bench-liability-" + "x" * 32
    )
    rt = build_runtime(settings, clock=lambda: NOW)
    conn = await asyncpg.connect(server.url("liability"))
    try:
        await migrate.upgrade(rt.engine)
        t0 = time.perf_counter()
        for template in GENERATE:
            sql = template.replace("{start}", START.isoformat()).replace("{now}", NOW.isoformat())
            await conn.execute(sql.replace("{cards}", str(int(cards))))
        report.progress(f"  generated {cards:,} cards in {time.perf_counter() - t0:.0f} s")
        past = NOW - timedelta(days=30)
        expected = {
            at: {r["cur"]: (int(r["amount"]), int(r["cards"])) for r in await conn.fetch(EXPECTED, at)}
            for at in (NOW, past)
        }

        async def bare() -> Any:
            return await conn.fetch(BASELINE)

        async def report_at(at: datetime | None) -> Any:
            async with rt.reader() as uow:
                return await liability.liability(uow, account_id=ACCOUNT, as_of=at)

        await bare()  # warm the cache once: every figure then reads from memory alike
        base_s, base_cpu, _ = await _timed(bare)
        out: dict[str, Any] = {
            "cards": cards,
            "baseline_seconds": base_s,
            "baseline_cpu_seconds": base_cpu,
            "loadavg_start": os.getloadavg(),
        }
        for name, at in (("now", None), ("past", past)):
            wall, cpu, found = await _timed(lambda at=at: report_at(at))
            got = {o.currency: (o.amount, o.cards) for o in found.data}
            out[name] = {
                "seconds": wall,
                "cpu_seconds": cpu,
                "ratio_to_baseline": wall / base_s if base_s else None,
                "matches": got == expected[NOW if at is None else at],
            }
            report.progress(
                f"  liability {name}: {wall:.2f} s ({wall / base_s:.1f}x the bare sum), PostgreSQL CPU {cpu:.2f} s, "
                f"{'matches' if out[name]['matches'] else 'DOES NOT MATCH'} the generated totals"
            )
        return out
    finally:
        await conn.close()
        await rt.close()


def measure(workdir: Path, *, durable: bool = True) -> dict[str, Any]:
    cards = int(os.environ.get("BENCH_LIABILITY_CARDS", "1000000"))
    report.progress(f"liability over {cards:,} cards (postgresql):")
    server = pg.start(durable=durable)
    try:
        return asyncio.run(_measure(server, cards, workdir))
    finally:
        server.stop()


def lines(r: dict[str, Any]) -> list[str]:
    out = [
        f"Liability report over {r['cards']:,} cards (PostgreSQL; limit {LIMIT_SECONDS:.0f} s):",
        f"  baseline, a bare SUM of the card balances: {r['baseline_seconds']:.2f} s "
        f"(load average {r['loadavg_start'][0]:.1f} on {os.cpu_count()} cores)",
    ]
    for name, label in (("now", "now"), ("past", "30 days back")):
        x = r[name]
        out.append(
            f"  {label}: {x['seconds']:.2f} s ({x['ratio_to_baseline']:.1f}x the baseline), "
            f"PostgreSQL CPU {x['cpu_seconds']:.2f} s per report"
        )
    return out


def problems(r: dict[str, Any]) -> list[str]:
    found = []
    for name in ("now", "past"):
        if r[name]["seconds"] >= LIMIT_SECONDS:
            found.append(f"liability {name} took {r[name]['seconds']:.1f} s over {r['cards']:,} cards (limit 5 s)")
        if not r[name]["matches"]:
            found.append(f"liability {name} does not match the generated totals")
    return found


if __name__ == "__main__":
    report.run_alone(measure, lines, problems, prefix="giftwell-liability-")
