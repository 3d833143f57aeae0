"""A throwaway PgBouncer in transaction mode on loopback, in front of the suite's PostgreSQL.

It writes an ini and a userlist into a temp dir and runs `pgbouncer` (Debian's, 1.18 here: it
knows nothing of protocol-level prepared statements, which arrived in 1.21). PgBouncer refuses to
run as root, so as root it runs as the `postgres` system user (as tests/pg.py runs PostgreSQL).
`server_pool` is the number of server connections per database and user: kept small so that
many client connections share each server connection, as in production.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.pg import PgServer, free_port


def program() -> str:
    found = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)
    if not found:
        raise RuntimeError("pgbouncer not found: run `scripts/ensure-system-deps.sh pgbouncer`")
    return found


@dataclass
class Bouncer:
    host: str
    port: int
    user: str
    proc: subprocess.Popen[bytes]
    base: Path

    def url(self, db: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{db}"

    def log(self) -> str:
        try:
            return (self.base / "pgbouncer.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)


def start(pg: PgServer, *, server_pool: int = 4) -> Bouncer:
    base = Path(tempfile.mkdtemp(prefix="giftwell-pgbouncer-"))
    port = free_port()
    (base / "userlist.txt").write_text(f'"{pg.user}" ""\n')
    (base / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={pg.host} port={pg.port}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {base / 'userlist.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {server_pool}",
                "min_pool_size = 0",
                "reserve_pool_size = 0",
                "max_client_conn = 1000",
                "max_db_connections = 0",
                # What asyncpg sends at start-up that PgBouncer does not track itself.
                "ignore_startup_parameters = extra_float_digits,statement_timeout",
                f"logfile = {base / 'pgbouncer.log'}",
                f"pidfile = {base / 'pgbouncer.pid'}",
                "log_connections = 0",
                "log_disconnections = 0",
                "",
            ]
        )
    )
    cmd = [program(), str(base / "pgbouncer.ini")]
    if os.geteuid() == 0:
        os.chmod(base, 0o755)
        for p in [base, *base.iterdir()]:
            shutil.chown(p, "postgres", "postgres")
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    bouncer = Bouncer("127.0.0.1", port, pg.user, proc, base)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = bouncer.log()
            bouncer.stop()
            raise RuntimeError(f"pgbouncer exited with {proc.returncode}: {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return bouncer
        except OSError:
            time.sleep(0.1)
    bouncer.stop()
    raise RuntimeError("pgbouncer did not start")
