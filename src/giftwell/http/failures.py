"""Which unexpected failures are transient: a retry of the same request may well succeed, and
nothing of the failed attempt committed (one request, one transaction). The surfaces that tell
a caller whether to retry (the Wpay dialect's GC-5555 against GC-9999) ask here."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

# PostgreSQL SQLSTATEs worth a retry: serialization failure, deadlock, lock not available,
# query cancelled (a statement timeout), and the connection classes (08...) and operator
# intervention (57P..., a server shutting down).
_RETRYABLE_STATES = ("40001", "40P01", "55P03", "57014")
_RETRYABLE_CLASSES = ("08", "57P")


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (getattr(exc, "orig", None), getattr(getattr(exc, "orig", None), "__cause__", None)):
        for attr in ("sqlstate", "pgcode"):
            value = getattr(candidate, attr, None)
            if isinstance(value, str):
                return value
    return None


def transient(exc: BaseException) -> bool:
    """True for a failure of the moment: the database unreachable, busy or shutting down, a
    deadlock or serialization failure, a connection pool or network timeout."""
    if isinstance(exc, TimeoutError | ConnectionError | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError):
            return True
        state = _sqlstate(exc)
        return state is not None and (state in _RETRYABLE_STATES or state.startswith(_RETRYABLE_CLASSES))
    return isinstance(exc, OSError)
