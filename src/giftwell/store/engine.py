"""Engines for the two supported databases.

`GIFTWELL_DATABASE_URL` is a plain `sqlite:///path` or `postgresql://...`; the drivers are ours
to choose (aiosqlite, asyncpg). SQLite allows one writer: every transaction begins IMMEDIATE (it
takes the write lock up front, so two transactions never both read then fail to upgrade), and in
one process a single pooled connection serialises transactions without busy-waiting.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from giftwell.telemetry import metrics


class UnsupportedDatabase(ValueError):
    pass


def async_url(url: str) -> str:
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return str(u.set(drivername="sqlite+aiosqlite"))
    if backend in ("postgresql", "postgres"):
        return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise UnsupportedDatabase(f"unsupported database URL scheme {u.drivername!r}: use sqlite:/// or postgresql://")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str, *, pool_size: int = 10, sqlite_synchronous: str = "FULL", pgbouncer: bool = False
) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(
            async_url(url),
            pool_size=1,
            max_overflow=0,
            pool_timeout=120,
            connect_args={"timeout": 30},
            # Replaced by `_reset` below: a rollback only when a transaction is open.
            pool_reset_on_return=None,
        )
        _sqlite_events(engine, sqlite_synchronous)
        _pool_metrics(engine, 1)
        return engine
    # A fixed pool, no overflow: an overflow connection is closed as soon as it is returned, so
    # under bursty load the process kept reconnecting (TCP, SSL probe, type introspection) to
    # PostgreSQL. `pool_size` is the most connections a process ever opens.
    # A connection attempt gives up after 5 s and a request waits at most 10 s for a pooled
    # connection: a database that is down or unreachable answers 503 quickly, never a hung request.
    connect_args: dict[str, Any] = {"timeout": 5}
    if pgbouncer:
        connect_args.update(PGBOUNCER_CONNECT_ARGS)
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=False,
        pool_timeout=10,
        connect_args=connect_args,
    )
    _pool_metrics(engine, pool_size)
    return engine


# Behind PgBouncer in transaction mode a client connection is lent a server connection for one
# transaction (or one statement in autocommit), so a statement prepared by name on one server
# connection is missing on the next, or its name is already taken there by another client's.
# With both caches off, asyncpg prepares every statement unnamed, and sends the Parse with its
# Describe and then the Bind and Execute before any Sync: PgBouncer (1.18 included, which knows
# nothing of prepared statements) keeps the client on one server connection until the Sync, and
# an unnamed statement lives only until the next one, so nothing is left behind on the server.
# This also holds for the statements Giftwell sends to the driver itself (the one-statement
# redemption, `services/cards/redeem_fast.py`). The cost: a Parse per statement (measured in
# docs/scaling.md).
PGBOUNCER_CONNECT_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,  # asyncpg's own cache (driver-level calls)
    "prepared_statement_cache_size": 0,  # SQLAlchemy's asyncpg dialect
}


def _pool_metrics(engine: AsyncEngine, size: int) -> None:
    """Connections in use (checked out), for `giftwell_db_pool_connections_in_use`."""
    metrics.DB_POOL_SIZE.set(size)
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkout")
    def _out(*_args: Any) -> None:
        metrics.DB_POOL_IN_USE.inc()

    @event.listens_for(pool, "checkin")
    def _in(*_args: Any) -> None:
        metrics.DB_POOL_IN_USE.dec()


def _keep_driver_autocommit(_dbapi_conn: Any, _level: Any) -> None:
    """The driver connection stays in its own autocommit mode (`isolation_level = None`, set at
    connect) whatever SQLAlchemy's isolation level: every transaction is the explicit BEGIN
    IMMEDIATE of `_begin`, which SQLAlchemy's AUTOCOMMIT option (a read-only unit of work) skips.
    SQLAlchemy would otherwise switch the driver's mode at each checkout of a read-only unit of
    work and back at its return (PRAGMA read_uncommitted included): four trips to aiosqlite's
    thread that changed nothing here, about half of a redemption's CPU."""


def _sqlite_events(engine: AsyncEngine, synchronous: str) -> None:
    engine.sync_engine.dialect.set_isolation_level = _keep_driver_autocommit  # type: ignore[method-assign,assignment]

    @event.listens_for(engine.sync_engine.pool, "reset")
    def _reset(dbapi_conn: Any, _record: Any, state: Any) -> None:
        # A connection returned to the pool is rolled back only if a transaction is still open
        # (a unit of work rolls back its own): reading `in_transaction` costs no trip to aiosqlite's
        # thread, a rollback does. The thread is idle while the connection is being returned.
        if state.asyncio_safe and dbapi_conn.driver_connection._conn.in_transaction:
            dbapi_conn.rollback()

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN IMMEDIATE below is the only BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        # Autocommit connections (read-only units of work) run each statement on its own.
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
