"""Backup and restore of the embedded SQLite database.

`backup` uses SQLite's online backup API in one step: it reads the whole database inside one
read transaction, so the copy is a consistent snapshot of a committed state, taken while the
server keeps serving (in WAL mode writers go on; they are not in the snapshot). The copy is
written next to its destination, checked (`PRAGMA integrity_check`), synced and renamed into
place, so a crash never leaves a half-written backup under the name asked for.

`restore` refuses while a server holds the database's lock (`store.lock`), checks the backup the
same way, and swaps it in the same careful way (the old file's `-wal` and `-shm` removed, since
they belong to the old file). PostgreSQL has its own tools: see docs/operations.md.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from giftwell.store import lock


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class Copied:
    path: Path
    bytes: int
    revision: str | None


def sqlite_path(database_url: str) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError(
            "giftwell backup and restore are for the embedded SQLite database; "
            "for PostgreSQL use pg_dump / pg_restore or point-in-time recovery (docs/operations.md)"
        )
    return Path(url.database).resolve()


def _check(path: Path) -> str | None:
    """Integrity-check a database file; returns its schema revision."""
    try:
        conn = sqlite3.connect(path)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()
            if result is None or result[0] != "ok":
                raise BackupError(f"{path} fails SQLite's integrity check: {result}")
            try:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.DatabaseError:
                raise BackupError(f"{path} is not a Giftwell database (no schema revision)") from None
            return None if row is None else str(row[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database: {exc}") from None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup(database_url: str, dest: Path) -> Copied:
    src_path = sqlite_path(database_url)
    if not src_path.exists():
        raise BackupError(f"no database at {src_path}")
    dest = dest.resolve()
    if dest == src_path:
        raise BackupError("the backup must not overwrite the database itself")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(src_path, timeout=30)
    try:
        out = sqlite3.connect(tmp)
        try:
            src.backup(out)  # one step: one read transaction, a consistent snapshot
        finally:
            out.close()
    finally:
        src.close()
    revision = _check(tmp)
    _fsync(tmp)
    os.replace(tmp, dest)
    return Copied(dest, dest.stat().st_size, revision)


def restore(database_url: str, source: Path) -> Copied:
    target = sqlite_path(database_url)
    source = source.resolve()
    if source == target:
        raise BackupError("the backup to restore is the database itself")
    revision = _check(source)
    try:
        held = lock.hold(database_url)
    except lock.AlreadyRunning as exc:
        raise BackupError(f"cannot restore while a server runs: {exc}") from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".restoring")
        tmp.unlink(missing_ok=True)
        src = sqlite3.connect(source)
        try:
            out = sqlite3.connect(tmp)
            try:
                src.backup(out)
            finally:
                out.close()
        finally:
            src.close()
        _fsync(tmp)
        for suffix in ("-wal", "-shm"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.replace(tmp, target)
    finally:
        if held is not None:
            held.close()
    return Copied(target, target.stat().st_size, revision)
