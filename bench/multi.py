"""Several server processes on PostgreSQL: `python -m bench.multi`.

For each HTTP server (uvicorn, granian) and worker count (1, 2), in one run on one durable
PostgreSQL: the bare FastAPI baseline (bench/bare.py) served the same way, then
`giftwell serve --workers N --server S` with uncontended redemptions (a random card of
BENCH_CARDS per request). Last, `serve --workers 2` (uvicorn) through PgBouncer in transaction
mode (`GIFTWELL_DATABASE_PGBOUNCER=1`, 20 server connections). CPU is that of the whole process
tree (the supervisor and every worker), per request. Settings: BENCH_SECONDS (10),
BENCH_CONNECTIONS (64), BENCH_CARDS (200), BENCH_SERVERS ("uvicorn,granian"), BENCH_WORKERS
("1,2"), BENCH_PGBOUNCER (1). Exits non-zero if a request failed or `ledger verify` fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from tests import pg, pgbouncer
from tests.pg import free_port
from tests.servers import Server, cli, giftwell_env, start_servers, stop_servers

from bench import bare, report, wrk
from bench.__main__ import RESULTS, SCOPES, make_cards

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
CARDS = int(os.environ.get("BENCH_CARDS", "200"))
SERVERS = os.environ.get("BENCH_SERVERS", "uvicorn,granian").split(",")
WORKERS = [int(n) for n in os.environ.get("BENCH_WORKERS", "1,2").split(",")]
THREADS = os.cpu_count() or 1


def tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process and every descendant alive now."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += wrk.process_cpu_seconds(p)
        except OSError:
            continue
        todo.extend(children.get(p, []))
    return total


def drive(
    url: str,
    pid: int,
    *,
    method: str,
    path: str,
    token: str = "",
    ids: Path | None = None,
    body: str = "",
    db_pid: int | None = None,
    bouncer_pid: int | None = None,
    db_url: str | None = None,
) -> dict[str, Any]:
    """wrk against `url`: its figures, the CPU per request of the server's process tree and, when
    given, of PostgreSQL's (the postmaster and its backends) and PgBouncer's."""
    kw: dict[str, Any] = {"token": token, "connections": CONNECTIONS, "threads": THREADS, "ids_file": ids, "body": body}
    wrk.run(url, method=method, path=path, seconds=min(3, SECONDS), **kw)  # warm-up
    trees = {"server_cpu_us": pid, "db_cpu_us": db_pid, "pgbouncer_cpu_us": bouncer_pid}
    before = {k: tree_cpu_seconds(p) for k, p in trees.items() if p}
    wal = asyncio.run(_wal_bytes(db_url)) if db_url else 0
    r = wrk.run(url, method=method, path=path, seconds=SECONDS, **kw)
    per = 1e6 / r.requests if r.requests else 0.0
    out = r.as_dict() | {k: (tree_cpu_seconds(p) - before[k]) * per if p else None for k, p in trees.items()}
    if db_url and r.requests:
        out["wal_bytes"] = (asyncio.run(_wal_bytes(db_url)) - wal) / r.requests
    if not r.clean:
        raise SystemExit(f"{method} {path}: {r.non_2xx} non-2xx answers, {r.socket_errors} socket errors")
    return out


@contextmanager
def giftwell(env: dict[str, str], workdir: Path, workers: int, server: str) -> Iterator[Server]:
    (s,) = start_servers(env, 1, workdir, extra_args=("--workers", str(workers), "--server", server))
    try:
        yield s
    finally:
        stop_servers([s])
        if "Traceback" in s.log(1_000_000):
            raise SystemExit(f"the server logged a traceback:\n{s.log()}")


def line(name: str, r: dict[str, Any]) -> None:
    report.progress(
        f"  {name}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
        f"CPU {r['server_cpu_us'] or 0:,.0f} us/request"
        + (f", PostgreSQL CPU {r['db_cpu_us']:,.0f} us/request" if r.get("db_cpu_us") is not None else "")
        + (f", WAL {r['wal_bytes']:,.0f} bytes/request" if r.get("wal_bytes") is not None else "")
        + (f", PgBouncer CPU {r['pgbouncer_cpu_us']:,.0f} us/request" if r.get("pgbouncer_cpu_us") is not None else "")
    )


def main() -> int:
    started = time.monotonic()
    workdir = Path(os.environ.get("BENCH_WORKDIR") or f"/tmp/giftwell-bench-multi-{os.getpid()}")
    workdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"loadavg_start": os.getloadavg(), "runs": {}}
    server_pg = pg.start(durable=True)
    bouncer = None
    try:
        asyncio.run(_create(server_pg))
        assert server_pg.datadir is not None
        pg_pid = int((server_pg.datadir / "postmaster.pid").read_text().split()[0])
        env = giftwell_env(server_pg.url("giftwell"), workdir / "var", secrets.token_urlsafe(40))
        cli(env, "db", "upgrade")
        cli(env, "accounts", "create", "bench")
        _, tok = cli(env, "tokens", "create", "--account", "bench", *SCOPES)
        token = tok["token"]
        ids = workdir / "card_ids.txt"
        redeem = json.dumps({"amount": 1})
        for server in SERVERS:
            for n in WORKERS:
                name = f"{server}, {n} worker{'s' if n > 1 else ''}"
                report.progress(f"{name}:")
                port = free_port()
                proc = bare.start(port, workdir / f"bare-{server}-{n}.log", workers=n, server=server)
                try:
                    r_bare = drive(f"http://127.0.0.1:{port}", proc.pid, method="GET", path="/")
                finally:
                    proc.terminate()
                    proc.wait(timeout=20)
                line("bare FastAPI GET", r_bare)
                with giftwell(env, workdir, n, server) as s:
                    if not ids.exists():
                        ids.write_text("\n".join(make_cards(s.url, token, CARDS)) + "\n")
                    r = drive(
                        s.url,
                        s.proc.pid,
                        method="POST",
                        path="/v1/cards/{id}/redeem",
                        token=token,
                        ids=ids,
                        body=redeem,
                        db_pid=pg_pid,
                        db_url=server_pg.url("giftwell"),
                    )
                line("redeem, uncontended", r)
                out["runs"][name] = {"bare": r_bare, "redeem": r}
        if os.environ.get("BENCH_PGBOUNCER", "1") != "0":
            bouncer = pgbouncer.start(server_pg, server_pool=20)
            benv = env | {"GIFTWELL_DATABASE_URL": bouncer.url("giftwell"), "GIFTWELL_DATABASE_PGBOUNCER": "1"}
            report.progress("uvicorn, 2 workers, through PgBouncer (transaction mode, 20 server connections):")
            with giftwell(benv, workdir, 2, "uvicorn") as s:
                r = drive(
                    s.url,
                    s.proc.pid,
                    method="POST",
                    path="/v1/cards/{id}/redeem",
                    token=token,
                    ids=ids,
                    body=redeem,
                    db_pid=pg_pid,
                    bouncer_pid=bouncer.proc.pid,
                    db_url=server_pg.url("giftwell"),
                )
            line("redeem, uncontended", r)
            out["runs"]["uvicorn, 2 workers, PgBouncer"] = {"redeem": r}
        out["sizes"] = asyncio.run(_sizes(server_pg.url("giftwell")))
        report.progress(f"tables: {json.dumps(out['sizes'])}")
        rc, verify = cli(env, "ledger", "verify", check=False)
        out["ledger_verify"] = verify
        if rc != 0:
            raise SystemExit(f"ledger verify failed: {verify}")
    finally:
        if bouncer is not None:
            bouncer.stop()
        server_pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    out["loadavg_end"] = os.getloadavg()
    out["seconds"] = time.monotonic() - started
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"multi-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(out, indent=2))
    report.progress(f"load average {out['loadavg_start']} at the start, {out['loadavg_end']} at the end; {path}")
    return 0


async def _wal_bytes(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"))
    finally:
        await conn.close()


async def _sizes(url: str) -> dict[str, Any]:
    """Rows and bytes (table, indexes and TOAST) of the tables a redemption writes."""
    conn = await asyncpg.connect(url)
    try:
        out: dict[str, Any] = {}
        for table in ("transfers", "events", "ledger_accounts", "cards"):
            rows = await conn.fetchval(f"SELECT count(*) FROM {table}")
            size = await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", table)
            out[table] = {"rows": rows, "bytes": size, "bytes_per_row": size / rows if rows else None}
        return out
    finally:
        await conn.close()


async def _create(server: pg.PgServer) -> None:
    conn = await asyncpg.connect(server.url("postgres"))
    try:
        await conn.execute("CREATE DATABASE giftwell")
    finally:
        await conn.close()


if __name__ == "__main__":
    sys.exit(main())
