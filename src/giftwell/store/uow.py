"""The unit of work: one connection, one transaction, rolled back unless committed.

The use-case boundary (an API request, a CLI command, a job) opens it, calls one service and
commits. Services and repositories never commit. Work that must only happen after the commit
(waking a worker, for instance) is registered with `after_commit`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from types import TracebackType
from typing import Self

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from giftwell.domain.errors import DatabaseUnavailable
from giftwell.store.host import Host


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached (rather than a statement it refused):
    a refused or broken connection, a server shutting down or starting, a pool with no connection
    to give within its timeout."""
    if isinstance(exc, sa_exc.TimeoutError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        if isinstance(orig, OSError | ConnectionError):
            return True
        # asyncpg: the server is starting, shutting down, or closed the connection.
        name = type(orig).__name__ if orig is not None else ""
        sqlstate = str(getattr(orig, "sqlstate", "") or getattr(orig, "pgcode", "") or "")
        return name in _UNAVAILABLE_NAMES or sqlstate.startswith(("08", "57P"))
    if type(exc).__module__.startswith("asyncpg"):
        # Raised by the driver itself, where a hot path calls it directly (services/cards/redeem_fast.py).
        sqlstate = str(getattr(exc, "sqlstate", "") or "")
        return type(exc).__name__ in _UNAVAILABLE_NAMES or sqlstate.startswith(("08", "57P"))
    return isinstance(exc, OSError)


_UNAVAILABLE_NAMES = frozenset(
    {
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "CannotConnectNowError",
        "AdminShutdownError",
        "CrashShutdownError",
        "InterfaceError",
    }
)


class UnitOfWork:
    """`read_only=True` runs each statement in autocommit: no BEGIN/ROLLBACK round trips and, on
    SQLite, no write lock. For a single read (a token check, one GET); anything that writes or
    needs several statements to agree opens a normal unit of work."""

    def __init__(self, rt: Host, *, read_only: bool = False) -> None:
        self.rt = rt
        self.read_only = read_only
        self._conn: AsyncConnection | None = None
        self._committed = False
        self._after_commit: list[Callable[[], Awaitable[None]]] = []
        self.now: datetime = rt.clock()

    @property
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside its `async with` block")
        return self._conn

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    async def __aenter__(self) -> Self:
        try:
            self._conn = await self.rt.engine.connect()
            if self.read_only:
                await self._conn.execution_options(isolation_level="AUTOCOMMIT")
            else:
                await self._conn.begin()
        except Exception as exc:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                await _close_quietly(conn)
            if unavailable(exc):
                raise DatabaseUnavailable() from exc
            raise
        # One clock reading per transaction: every row it writes carries the same time.
        self.now = self.rt.clock()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if exc is not None and unavailable(exc):
            # The connection is gone: nothing to roll back (the server dropped the transaction).
            await _close_quietly(conn)
            raise DatabaseUnavailable() from exc
        try:
            # A read-only unit of work has no transaction of its own to end: the pool's reset on
            # return rolls back whatever a statement left open (on SQLite only when one is).
            if not self._committed and not self.read_only:
                await conn.rollback()
        finally:
            await conn.close()
        if self._committed and exc_type is None:
            for fn in self._after_commit:
                await fn()

    async def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work has nothing to commit")
        await self.conn.commit()
        self._committed = True

    def after_commit(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._after_commit.append(fn)


async def _close_quietly(conn: AsyncConnection) -> None:
    # The connection is already broken: closing it is best effort.
    with contextlib.suppress(Exception):
        await conn.close()
