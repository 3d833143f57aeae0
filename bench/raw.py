"""Baseline B: how many single-row UPDATE transactions the database itself commits per second.

PostgreSQL: pgbench, `UPDATE t SET v = v + 1 WHERE id = random(1, N)`, one transaction per
statement, prepared, with as many clients as wrk has connections. SQLite: one writer (all a
SQLite file allows) in Python's sqlite3, WAL, `synchronous` as Giftwell sets it, each UPDATE in
its own BEGIN IMMEDIATE ... COMMIT, as Giftwell's transactions are.
"""

from __future__ import annotations

import random
import re
import sqlite3
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
from tests import pg


@dataclass(frozen=True)
class RawResult:
    tps: float
    transactions: int
    mean_ms: float
    p50_ms: float | None = None
    p99_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def pg_prepare(server: pg.PgServer, db: str, rows: int) -> None:
    conn = await asyncpg.connect(server.url("postgres"))
    try:
        await conn.execute(f"CREATE DATABASE {db}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(server.url(db))
    try:
        await conn.execute("CREATE TABLE t (id integer PRIMARY KEY, v bigint NOT NULL)")
        await conn.execute("INSERT INTO t SELECT g, 0 FROM generate_series(1, $1) g", rows)
        await conn.execute("VACUUM ANALYZE t")
    finally:
        await conn.close()


def pgbench(
    server: pg.PgServer, db: str, *, rows: int, hot: bool, seconds: int, clients: int, threads: int, workdir: Path
) -> RawResult:
    """pgbench on table `t` (made by `pg_prepare`): a random row of `rows`, or always row 1."""
    script = workdir / ("update_hot.sql" if hot else "update_random.sql")
    where = "1" if hot else ":id"
    script.write_text(f"\\set id random(1, {rows})\nUPDATE t SET v = v + 1 WHERE id = {where};\n")
    cmd = [pg.pg_program("pgbench"), "-n", "-h", server.host, "-p", str(server.port), "-U", server.user]
    cmd += ["-c", str(clients), "-j", str(threads), "-T", str(seconds), "-M", "prepared", "-f", str(script), db]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=seconds + 60)
    tps = re.search(r"^tps = ([\d.]+)", proc.stdout, re.M)
    done = re.search(r"number of transactions actually processed: (\d+)", proc.stdout)
    lat = re.search(r"latency average = ([\d.]+) ms", proc.stdout)
    if proc.returncode != 0 or not (tps and done and lat):
        raise RuntimeError(f"pgbench failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return RawResult(tps=float(tps.group(1)), transactions=int(done.group(1)), mean_ms=float(lat.group(1)))


def sqlite_updates(path: Path, *, rows: int, seconds: int, synchronous: str) -> RawResult:
    """One writer, UPDATE + COMMIT in a loop for `seconds`, on a fresh file at `path`."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
        conn.executemany("INSERT INTO t VALUES (?, 0)", [(i,) for i in range(1, rows + 1)])
        rng = random.Random(1)
        took: list[float] = []
        end = time.perf_counter() + seconds
        start = now = time.perf_counter()
        while now < end:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE t SET v = v + 1 WHERE id = ?", (rng.randint(1, rows),))
            conn.execute("COMMIT")
            t = time.perf_counter()
            took.append(t - now)
            now = t
        elapsed = now - start
    finally:
        conn.close()
    cuts = statistics.quantiles(took, n=100)
    return RawResult(
        tps=len(took) / elapsed,
        transactions=len(took),
        mean_ms=statistics.fmean(took) * 1000,
        p50_ms=cuts[49] * 1000,
        p99_ms=cuts[98] * 1000,
    )
