"""A database that cannot be reached, as the one error every surface words its own way.

The units of work already raise `DatabaseUnavailable`; what reaches the database another way (the
rate-limit counters, a migration check) raises the driver's error, which `as_unavailable`
recognises, so each surface's catch-all answers 503 with Retry-After instead of a 500."""

from __future__ import annotations

from giftwell.domain.errors import DatabaseUnavailable
from giftwell.store.uow import unavailable


def as_unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    if isinstance(exc, DatabaseUnavailable):
        return exc
    return DatabaseUnavailable() if unavailable(exc) else None
