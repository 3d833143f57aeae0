"""Drive `wrk` with bench/lua/request.lua and read back its figures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("lua") / "request.lua"
MARK = "BENCH_JSON "


@dataclass(frozen=True)
class HttpResult:
    """One wrk run: throughput, latency and every kind of failure it saw."""

    rps: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int
    # The server process's own CPU time per request (user + system), when its pid was given:
    # far steadier than req/s on a machine other work is also using.
    server_cpu_us: float | None = None

    @property
    def clean(self) -> bool:
        return self.non_2xx == 0 and self.socket_errors == 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wrk_path() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk not found: run `make bench` (it installs wrk) or apt-get install wrk")
    return found


def run(
    base_url: str,
    *,
    method: str,
    path: str,
    token: str,
    ids_file: Path | None = None,
    body: str = "",
    seconds: int,
    connections: int,
    threads: int,
    server_pid: int | None = None,
) -> HttpResult:
    """`connections` keep-alive connections on `threads` threads for `seconds`; PATH may hold
    `{id}`, replaced per request by a random line of `ids_file`."""
    cmd = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(SCRIPT),
        base_url,
        "--",
        method,
        path,
        token,
        str(ids_file or ""),
        body,
    ]
    cpu_before = process_cpu_seconds(server_pid) if server_pid else 0.0
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=seconds + 60)
    cpu = process_cpu_seconds(server_pid) - cpu_before if server_pid else None
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    d = json.loads(line[len(MARK) :])
    seconds_run = d["duration_us"] / 1e6
    return HttpResult(
        rps=d["requests"] / seconds_run,
        requests=d["requests"],
        p50_ms=d["p50_us"] / 1000,
        p90_ms=d["p90_us"] / 1000,
        p99_ms=d["p99_us"] / 1000,
        mean_ms=d["mean_us"] / 1000,
        max_ms=d["max_us"] / 1000,
        non_2xx=d["non_2xx"],
        socket_errors=d["connect_errors"] + d["read_errors"] + d["write_errors"] + d["timeouts"],
        server_cpu_us=None if cpu is None or not d["requests"] else cpu / d["requests"] * 1e6,
    )


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
