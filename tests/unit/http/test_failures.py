"""Which unexpected failures a caller may retry (the Wpay dialect's GC-5555) and which not
(GC-9999)."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from giftwell.http.failures import transient


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def dbapi(orig: Exception, kind: type[sa_exc.DBAPIError] = sa_exc.DBAPIError) -> sa_exc.DBAPIError:
    return kind("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
        OSError("network unreachable"),
        sa_exc.TimeoutError("pool"),
        dbapi(Exception("database is locked"), sa_exc.OperationalError),
        dbapi(PgError("40001")),
        dbapi(PgError("40P01")),
        dbapi(PgError("08006")),
        dbapi(PgError("57P01")),
    ],
    ids=["refused", "timeout", "oserror", "pool", "sqlite-locked", "serialization", "deadlock", "conn", "shutdown"],
)
def test_transient(exc):
    assert transient(exc)


@pytest.mark.parametrize(
    "exc",
    [RuntimeError("bug"), KeyError("x"), dbapi(PgError("23505"), sa_exc.IntegrityError), dbapi(PgError("42P01"))],
    ids=["runtime", "keyerror", "unique", "undefined-table"],
)
def test_final(exc):
    assert not transient(exc)
