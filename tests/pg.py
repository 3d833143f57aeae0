"""A throwaway PostgreSQL server for the test suite (initdb + pg_ctl on a temp dir, loopback port).

initdb refuses to run as root, so as root the server runs as the `postgres` system user via
`runuser`. `GIFTWELL_TEST_PG_URL` points the suite at an existing server instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(
            f"PostgreSQL's {name} not found: run `make test` (it installs PostgreSQL) or set GIFTWELL_TEST_PG_URL"
        )
    return candidates[-1]


def pg_program(name: str) -> str:
    """The path of a PostgreSQL program (pgbench, psql, ...), wherever Debian put it."""
    return _pg_bin(name)


@dataclass
class PgServer:
    host: str
    port: int
    user: str
    datadir: Path | None = None
    _as_postgres: bool = False
    _opts: str = ""

    def url(self, db: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{db}"

    def halt(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data (`resume` starts it again on the same port)."""
        assert self.datadir is not None
        _run([_pg_bin("pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"], self._as_postgres)

    def resume(self) -> None:
        assert self.datadir is not None
        log = str(self.datadir.parent / "log")
        _run(
            [_pg_bin("pg_ctl"), "-D", str(self.datadir), "-o", self._opts, "-l", log, "-w", "start"], self._as_postgres
        )

    def stop(self) -> None:
        if self.datadir is None:
            return
        _run([_pg_bin("pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"], self._as_postgres, check=False)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _run(cmd: list[str], as_postgres: bool, *, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    if as_postgres:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=check, capture_output=True)


def start(*, durable: bool = False) -> PgServer:
    """Start a server. The suite's runs without fsync (its data is thrown away); `durable=True`
    keeps PostgreSQL's defaults (fsync, synchronous commit), as the benchmarks want."""
    base = Path(tempfile.mkdtemp(prefix="giftwell-pg-"))
    datadir = base / "data"
    as_postgres = os.geteuid() == 0
    if as_postgres:
        os.chmod(base, 0o755)
        shutil.chown(base, "postgres", "postgres")
    _run(
        [_pg_bin("initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"], as_postgres
    )
    port = free_port()
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {base} -c max_connections=300 -c shared_buffers=128MB"
    if not durable:
        opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    _run([_pg_bin("pg_ctl"), "-D", str(datadir), "-o", opts, "-l", str(base / "log"), "-w", "start"], as_postgres)
    server = PgServer("127.0.0.1", port, "postgres", datadir, as_postgres, opts)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("PostgreSQL did not start")
