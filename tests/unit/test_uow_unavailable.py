"""Which failures mean the database cannot be reached, for errors the driver raises itself (the
redemption's statement goes straight to asyncpg): a lost connection is `database_unavailable`
(503), a refused statement is not."""

from __future__ import annotations

import asyncpg

from giftwell.store.uow import unavailable


def test_driver_errors_are_classified_like_wrapped_ones() -> None:
    assert unavailable(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"))
    assert unavailable(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    assert unavailable(asyncpg.exceptions.CannotConnectNowError("the database system is starting up"))
    assert not unavailable(asyncpg.exceptions.UniqueViolationError("duplicate key"))
    assert not unavailable(asyncpg.exceptions.CheckViolationError("available_not_negative"))
