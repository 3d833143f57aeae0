"""The embedded server's exclusive lock on its SQLite file.

`giftwell serve` on SQLite holds an exclusive `flock` on `<database file>.lock` for as long as it
runs. A second server on the same file is refused with a message naming the holder, and the one
that holds the lock knows it is the only server (and the only in-process worker) on that file:
jobs that an earlier server held can be claimed again at once instead of after their leases.
The kernel drops the lock when the process dies, however it dies (SIGKILL included).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url


class AlreadyRunning(Exception):
    """Another server holds the lock; the message says which process and how to proceed."""


def lock_path(database_url: str) -> Path | None:
    """The lock file of an SQLite database URL (None for an in-memory database or PostgreSQL)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve().with_name(Path(url.database).name + ".lock")


def hold(database_url: str) -> IO[str] | None:
    """Take the lock for the life of this process (keep the returned file open); raises
    `AlreadyRunning` when another process has it. None when there is nothing to lock."""
    path = lock_path(database_url)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = path.open("a+")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise AlreadyRunning(
            f"another Giftwell server ({holder}) is already serving {path.with_suffix('')}: "
            "stop it first, or point this one at another GIFTWELL_DATA_DIR / GIFTWELL_DATABASE_URL"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()}\n")
    fh.flush()
    return fh
