"""One error hierarchy with stable codes.

Every failure a caller can act on is a `GiftwellError` with a stable `code`, a human `message`,
the offending `param` when one field is to blame, and structured `fields`. Each API surface maps
these to its own envelope in one exception handler; nothing builds error bodies by hand.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GiftwellError(Exception):
    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    type: ClassVar[str] = "invalid_request_error"

    def __init__(self, message: str, *, param: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.fields = fields


class ValidationFailed(GiftwellError):
    code = "validation_error"
    status = 422


class NotFound(GiftwellError):
    code = "not_found"
    status = 404


class CodeNotFound(NotFound):
    """No card answers to this code (or, for a holder-facing lookup, none that may be shown: a
    blocked card or a wrong PIN look exactly the same). The guessing guard counts these."""


class Unauthenticated(GiftwellError):
    code = "unauthorized"
    status = 401
    type = "authentication_error"


class InsufficientScope(GiftwellError):
    code = "insufficient_scope"
    status = 403
    type = "permission_error"


class CardError(GiftwellError):
    """A card exists but its state forbids the operation."""

    status = 422
    type = "card_error"


class InsufficientFunds(CardError):
    code = "insufficient_funds"


class CardInactive(CardError):
    code = "card_inactive"


class CardBlocked(CardError):
    code = "card_blocked"


class CardDisabled(CardError):
    code = "card_disabled"


class CardExpired(CardError):
    code = "card_expired"


class CurrencyMismatch(CardError):
    code = "currency_mismatch"


class TestCardRefused(CardError):
    """A card made by a test order: it has a code and a balance but never buys anything."""

    __test__ = False  # not a pytest class, whatever its name says
    code = "test_card"


class InvalidState(GiftwellError):
    code = "invalid_state"
    status = 409


class Conflict(GiftwellError):
    code = "conflict"
    status = 409


class IdempotencyKeyReused(GiftwellError):
    code = "idempotency_key_reused"
    status = 422
    type = "idempotency_error"


class IdempotencyKeyInUse(GiftwellError):
    code = "idempotency_key_in_use"
    status = 409
    type = "idempotency_error"


class Forbidden(GiftwellError):
    code = "forbidden"
    status = 403
    type = "permission_error"


class InvalidCredentials(GiftwellError):
    """Sign-in failed. One message for an unknown email, a wrong password and a locked user, so
    the answer never tells a guesser which emails exist."""

    code = "invalid_credentials"
    status = 401
    type = "authentication_error"


class RateLimited(GiftwellError):
    """Too many requests: retry after `retry_after` seconds."""

    code = "rate_limited"
    status = 429
    type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: int, **fields: Any) -> None:
        super().__init__(message, retry_after=retry_after, **fields)
        self.retry_after = retry_after


class TooManyAttempts(RateLimited):
    """Too many failed code lookups from this client or address (the guessing guard)."""

    code = "too_many_attempts"


class ResendTooSoon(RateLimited):
    """A card was sent less than 30 seconds ago (by creation with a notification, `/send` or
    `/resend`): retry after `retry_after` seconds."""

    code = "resend_too_soon"


class DeliveryExists(Conflict):
    """`/send` on a card that already has a delivery under way or done: use `/resend`."""

    code = "delivery_exists"


class RewardGone(GiftwellError):
    """A reward link whose card is blocked, disabled or expired: nothing on it may be shown."""

    code = "gone"
    status = 410


class DatabaseUnavailable(GiftwellError):
    """The database cannot be reached (restarting, unreachable, refusing connections): nothing was
    changed by this request, or, if the connection broke at commit, the caller retries with the
    same `Idempotency-Key`. Retry after `retry_after` seconds."""

    code = "database_unavailable"
    status = 503
    type = "api_error"

    def __init__(self, message: str = "the database is unavailable; retry shortly", *, retry_after: int = 5) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after
