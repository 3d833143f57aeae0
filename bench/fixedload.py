"""A fixed number of HTTP requests on N keep-alive connections: the client of bench/medusa.py.

wrk (bench/wrk.py) runs for a duration; "create 1,000 cards, then read each, then change each
one's balance" wants a count, and the created cards' ids back. This is the smallest client that
does it without costing the machine more than the servers it measures: plain asyncio streams,
HTTP/1.1 with keep-alive, one request in flight per connection (as wrk), no HTTP library.
The same client drives both servers of a comparison.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.wrk import process_cpu_seconds


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any = None  # sent as JSON when not None


@dataclass(frozen=True)
class FixedResult:
    """One batch: throughput over its wall time, latency percentiles, failures, and the server's
    own CPU time per request when its pid was given."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    server_cpu_us: float | None
    first_error: str | None = None
    # The database server's CPU per request (all its processes, when a probe was given) and this
    # client's own: Medusa and Giftwell share one PostgreSQL server and one client.
    db_cpu_us: float | None = None
    client_cpu_us: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Conn:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, req: Request) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        body = b"" if req.body is None else json.dumps(req.body).encode()
        head = f"{req.method} {req.path} HTTP/1.1\r\n{self.fixed}"
        if req.body is not None:
            head += "Content-Type: application/json\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        if fields.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        else:
            data = await self.reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def run(
    base_url: str,
    requests: Sequence[Request],
    *,
    connections: int,
    headers: dict[str, str],
    server_pid: int | None = None,
    db_cpu: Callable[[], float] | None = None,
) -> tuple[FixedResult, list[Any]]:
    """Send every request once, on `connections` connections; the figures, and each response's
    parsed JSON body in the order of `requests` (None where it was not JSON). `db_cpu` returns
    the database server's CPU seconds so far."""
    db0, client0 = db_cpu() if db_cpu else 0.0, time.process_time()
    result, bodies = asyncio.run(_run(base_url, requests, connections, headers, server_pid))
    n = result.requests or 1
    return (
        replace(
            result,
            db_cpu_us=(db_cpu() - db0) / n * 1e6 if db_cpu else None,
            client_cpu_us=(time.process_time() - client0) / n * 1e6,
        ),
        bodies,
    )


def postgres_cpu_seconds(datadir: Path) -> float:
    """CPU seconds of a PostgreSQL server so far: the postmaster's and its live children's, plus
    what the postmaster collected from the children that exited (Linux /proc)."""
    postmaster = int((datadir / "postmaster.pid").read_text().split()[0])
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        pid = int(stat.parent.name)
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
        elif int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def _run(
    base_url: str, requests: Sequence[Request], connections: int, headers: dict[str, str], pid: int | None
) -> tuple[FixedResult, list[Any]]:
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    bodies: list[Any] = [None] * len(requests)
    latencies: list[float] = []
    errors: list[str] = []
    todo = iter(range(len(requests)))

    async def worker() -> None:
        conn = _Conn(host, port, headers)
        try:
            for i in todo:  # shared: each index is taken by one worker
                t0 = time.perf_counter()
                status, data = await conn.send(requests[i])
                latencies.append(time.perf_counter() - t0)
                if not 200 <= status < 300:
                    errors.append(f"{requests[i].method} {requests[i].path}: {status} {data[:300]!r}")
                    continue
                try:
                    bodies[i] = json.loads(data) if data else None
                except ValueError:
                    bodies[i] = None
        finally:
            await conn.close()

    cpu0 = process_cpu_seconds(pid) if pid else 0.0
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    wall = time.perf_counter() - started
    cpu = process_cpu_seconds(pid) - cpu0 if pid else None
    latencies.sort()
    n = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(n - 1, int(p * n))] * 1000 if n else 0.0

    return (
        FixedResult(
            requests=n,
            seconds=round(wall, 3),
            rps=n / wall if wall else 0.0,
            p50_ms=pct(0.50),
            p99_ms=pct(0.99),
            max_ms=latencies[-1] * 1000 if n else 0.0,
            non_2xx=len(errors),
            server_cpu_us=None if cpu is None or not n else cpu / n * 1e6,
            first_error=errors[0] if errors else None,
        ),
        bodies,
    )
