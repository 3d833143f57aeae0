"""Bulk issue of 1,000,000 cards on PostgreSQL (`giftwell cards issue-bulk`), timed, then
`giftwell ledger verify` over them. `python -m bench.bulk` runs it alone; `BENCH_BULK_CARDS` sets
the size (0 skips it in `make bench`), `BENCH_PG_DURABLE` as for the rest of the bench."""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from tests import pg
from tests.servers import cli, giftwell_env

from bench import report


def cards() -> int:
    return int(os.environ.get("BENCH_BULK_CARDS", "1000000"))


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(workdir: Path, *, durable: bool, count: int | None = None) -> dict[str, Any]:
    count = count or cards()
    server = pg.start(durable=durable)
    try:

        async def create() -> None:
            conn = await asyncpg.connect(server.url("postgres"))
            try:
                await conn.execute("CREATE DATABASE giftwell")
            finally:
                await conn.close()

        asyncio.run(create())
        env = giftwell_env(server.url("giftwell"), workdir / "var", secrets.token_urlsafe(32))
        cli(env, "db", "upgrade")
        cli(env, "accounts", "create", "bulk-operator", "--operator")
        out = workdir / "codes.csv"
        cmd = [sys.executable, "-m", "giftwell", "cards", "issue-bulk", "--count", str(count), "--amount", "100"]
        cmd += ["--currency", "EUR", "--out", str(out), "--batch-size", "10000", "--json"]
        cpu0, t0 = _children_cpu(), time.monotonic()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=3600)
        seconds, cpu = time.monotonic() - t0, _children_cpu() - cpu0
        lines = sum(1 for _ in out.open()) - 2 if out.exists() else 0
        t1 = time.monotonic()
        rc, verify = cli(env, "ledger", "verify", check=False)
        result = {
            "cards": count,
            "ok": proc.returncode == 0 and lines == count,
            "seconds": round(seconds, 2),
            "cards_per_second": round(count / seconds, 1),
            "cli_cpu_seconds": round(cpu, 2),
            "codes_in_file": lines,
            "verify_seconds": round(time.monotonic() - t1, 2),
            "ledger_ok": rc == 0 and verify.get("ok") is True,
            "error": proc.stderr[-2000:] if proc.returncode else None,
        }
    finally:
        server.stop()
    report.progress(
        f"bulk issue of {count:,} cards: {result['seconds']:.1f} s = {result['cards_per_second']:,.0f} cards/s, "
        f"CLI CPU {result['cli_cpu_seconds']:.1f} s; ledger verify {'ok' if result['ledger_ok'] else 'FAILED'} "
        f"({result['verify_seconds']:.1f} s)"
    )
    return result


def lines(r: dict[str, Any]) -> list[str]:
    return [
        f"bulk issue (PostgreSQL): {r['cards']:,} cards in {r['seconds']:.1f} s = {r['cards_per_second']:,.0f} cards/s, "
        f"{r['cli_cpu_seconds']:.1f} s of the command's CPU; codes in the file {r['codes_in_file']:,}; "
        f"ledger verify {'ok' if r['ledger_ok'] else 'FAILED'} in {r['verify_seconds']:.1f} s"
    ]


def problems(r: dict[str, Any]) -> list[str]:
    found = []
    if not r["ok"]:
        found.append(f"bulk issue failed or wrote {r['codes_in_file']} codes for {r['cards']}: {r['error']}")
    if not r["ledger_ok"]:
        found.append("`giftwell ledger verify` failed after the bulk issue")
    return found


if __name__ == "__main__":
    import json
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="giftwell-bulk-"))
    res = measure(d, durable=os.environ.get("BENCH_PG_DURABLE", "1") != "0")
    print(json.dumps(res, indent=2))
    sys.exit(1 if problems(res) else 0)
