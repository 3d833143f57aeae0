"""Real `giftwell serve` processes on loopback ports, and the CLI run as a subprocess.

Used by the multi-process integration tests and by the benchmarks (`bench/`): both want the
server exactly as an operator runs it, not the app mounted in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.pg import free_port

STARTUP_SECONDS = 60


def giftwell_env(db_url: str, data_dir: Path, secret: str, **extra: str) -> dict[str, str]:
    """The environment of a server or CLI process: this process's, plus Giftwell's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIFTWELL_")}
    env.update(
        GIFTWELL_DATABASE_URL=db_url,
        GIFTWELL_DATA_DIR=str(data_dir),
        GIFTWELL_SECRET_KEY=secret,
        GIFTWELL_LOG_LEVEL="warning",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def cli(env: dict[str, str], *args: str, check: bool = True) -> tuple[int, Any]:
    """Run `giftwell ARGS --json`; its exit status and the JSON it printed (stdout, else stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "giftwell", *args, "--json"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout.strip() or proc.stderr.strip()
    if check and proc.returncode != 0:
        raise RuntimeError(f"giftwell {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
    try:
        return proc.returncode, json.loads(out)
    except json.JSONDecodeError:
        raise RuntimeError(f"giftwell {' '.join(args)} printed no JSON: {out[-2000:]}") from None


def serve_once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `giftwell serve` on a free port and wait for it to exit (for a server that refuses to
    start): its exit status and output."""
    return subprocess.run(
        [sys.executable, "-m", "giftwell", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""


def start_servers(
    env: dict[str, str], count: int, log_dir: Path, *, extra_args: tuple[str, ...] = (), wait: bool = True
) -> list[Server]:
    """Start `count` server processes and (unless `wait=False`, for callers with other work to do
    meanwhile; they call `wait_healthy`) wait until each answers /healthz. On failure, the ones
    already started are stopped and the error carries the failing server's log."""
    servers: list[Server] = []
    try:
        for i in range(count):
            port = free_port()
            log_path = log_dir / f"server-{i}-{port}.log"
            with log_path.open("wb") as log:
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "giftwell",
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        *extra_args,
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            servers.append(Server(f"http://127.0.0.1:{port}", proc, log_path))
        if wait:
            wait_healthy(servers)
    except BaseException:
        stop_servers(servers)
        raise
    return servers


def wait_healthy(servers: list[Server]) -> None:
    for s in servers:
        _wait_healthy(s)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server {server.url} exited with {server.proc.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server {server.url} not healthy after {STARTUP_SECONDS}s:\n{server.log()}")


def stop_servers(servers: list[Server], *, grace: float = 10.0) -> None:
    """Terminate every server, then kill whichever has not exited within `grace` seconds."""
    for s in servers:
        if s.proc.poll() is None:
            s.proc.terminate()
    deadline = time.monotonic() + grace
    for s in servers:
        try:
            s.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            s.proc.kill()
            s.proc.wait(timeout=10)
