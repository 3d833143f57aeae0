"""Wix's error bodies, and which status and code each refusal is (docs/dialects/wix.md).

Every failure answers `{"message", "details": {...}}` with either
`applicationError: {code, description, data}` or
`validationError: {fieldViolations: [{field, description, violatedRule}]}`:

- 400 `validationError` for a malformed field (the services' parameter names put back into
  Wix's paths), 400 `applicationError` `QUERY_NOT_INDEXED` for a query no index answers;
- 401 `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`, 404 `GIFT_CARD_NOT_FOUND` (another site's
  card is exactly a missing one);
- 409 `CODE_ALREADY_EXISTS`, `IDEMPOTENCY_KEY_REUSED`, `IDEMPOTENCY_KEY_IN_USE`, `CONFLICT`;
- 428 (FAILED_PRECONDITION, as Wix answers the gift-card rules): `INVALID_CODE`,
  `GIFT_CARD_DISABLED`, `GIFT_CARD_EXPIRED`, `GIFT_CARD_INACTIVE`, `GIFT_CARD_BLOCKED`,
  `INSUFFICIENT_BALANCE`, `INVALID_STATE`;
- 429 `TOO_MANY_REQUESTS` with Retry-After; 503 `UNAVAILABLE` with Retry-After; 500 `INTERNAL`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from giftwell.dialects.wix.wire import InvalidCode, WireError
from giftwell.domain.card_query import QueryNotIndexed
from giftwell.domain.errors import (
    CardBlocked,
    CardDisabled,
    CardExpired,
    CardInactive,
    Conflict,
    GiftwellError,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InsufficientFunds,
    InsufficientScope,
    InvalidState,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from giftwell.http.decimal_json import json_response
from giftwell.http.outage import as_unavailable

log = logging.getLogger("giftwell.dialects.wix")

INVALID_CODE = "Gift Card Code can only contain letters(A-z) and numbers(0-9)"
# Service errors by class, first match wins: (status, Wix code).
APPLICATION: tuple[tuple[type[GiftwellError], int, str], ...] = (
    (Unauthenticated, 401, "UNAUTHENTICATED"),
    (InsufficientScope, 403, "PERMISSION_DENIED"),
    (NotFound, 404, "GIFT_CARD_NOT_FOUND"),
    (QueryNotIndexed, 400, "QUERY_NOT_INDEXED"),
    (IdempotencyKeyReused, 409, "IDEMPOTENCY_KEY_REUSED"),
    (IdempotencyKeyInUse, 409, "IDEMPOTENCY_KEY_IN_USE"),
    (CardDisabled, 428, "GIFT_CARD_DISABLED"),
    (CardExpired, 428, "GIFT_CARD_EXPIRED"),
    (CardInactive, 428, "GIFT_CARD_INACTIVE"),
    (CardBlocked, 428, "GIFT_CARD_BLOCKED"),
    (InsufficientFunds, 428, "INSUFFICIENT_BALANCE"),
    (InvalidState, 428, "INVALID_STATE"),
)
# The services' parameter names as Wix's fields, for every operation (a request's own map first).
FIELDS = {
    "amount": "giftCard.initialValue.amount",
    "currency": "giftCard.currency",
    "expires_at": "giftCard.expirationDate",
    "code": "giftCard.code",
    "recipient.email": "giftCard.notificationInfo.recipientInfo.email",
    "sender.email": "giftCard.notificationInfo.senderInfo.email",
    "recipient.name": "giftCard.notificationInfo.recipientInfo.name",
    "sender.name": "giftCard.notificationInfo.senderInfo.name",
    "cursor": "query.cursorPaging.cursor",
    "limit": "query.cursorPaging.limit",
    "sort": "query.sort",
    "Idempotency-Key": "idempotencyKey",
}
NOTICE_FIELDS = {
    "to": "recipientInfo.email",
    "recipient_name": "recipientInfo.name",
    "sender_name": "senderInfo.name",
    "message": "personalMessage",
    "image_url": "image.url",
    "scheduled_at": "notificationDate",
}


def field_of(param: str | None, fields: dict[str, str]) -> str:
    if not param:
        return "body"
    if param in fields:
        return fields[param]
    if param.startswith("filter"):
        return "query." + param
    head, _, rest = param.partition(".")
    if head == "notification" and rest in NOTICE_FIELDS:
        return "giftCard.notificationInfo." + NOTICE_FIELDS[rest]
    return NOTICE_FIELDS.get(param) or FIELDS.get(param) or param


def application(status: int, code: str, message: str, data: dict[str, Any] | None = None) -> Response:
    details = {"applicationError": {"code": code, "description": message, "data": data or {}}}
    return json_response({"message": message, "details": details}, status)


def validation(violations: list[tuple[str, str, str]]) -> Response:
    found = [{"field": f, "description": d, "violatedRule": r} for f, d, r in violations]
    # Wix words it with the field's own name: "currency must not be empty".
    message = "; ".join(f"{f.rsplit('.', 1)[-1]} {d}" for f, d, _ in violations)
    return json_response({"message": message, "details": {"validationError": {"fieldViolations": found}}}, 400)


def _field_violation(exc: ValidationFailed, fields: dict[str, str]) -> Response:
    field = field_of(exc.param, fields)
    rule = {"decimal_places": "DECIMAL_VALUE", "max": "MAX", "required": "REQUIRED_FIELD"}.get(
        str(exc.fields.get("rule")), "INVALID_FORMAT"
    )
    return validation([(field, exc.message, rule)])


def respond(exc: Exception, request: Request, fields: dict[str, str] | None = None) -> Response:
    """The Wix answer for `exc`; `fields` maps this operation's service parameters to its paths."""
    if isinstance(exc, WireError):
        return validation(exc.violations)
    if isinstance(exc, InvalidCode):
        return application(428, "INVALID_CODE", INVALID_CODE)
    if isinstance(exc, ValidationFailed):
        return _field_violation(exc, fields or {})
    throttled = _later(exc)
    if throttled is not None:
        return throttled
    if isinstance(exc, GiftwellError):
        return _refusal(exc)
    rid = request.scope.get("state", {}).get("request_id", "")
    log.exception("wix gift cards request failed unexpectedly (request %s)", rid)
    return application(500, "INTERNAL", f"Internal error (request {rid})")


def _later(exc: Exception) -> Response | None:
    """429 for a rate limit, 503 for a database out of reach: both with Retry-After."""
    if isinstance(exc, RateLimited):
        response = application(429, "TOO_MANY_REQUESTS", exc.message, {"retryAfter": exc.retry_after})
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    down = as_unavailable(exc)
    if down is None:
        return None
    response = application(503, "UNAVAILABLE", "The service is unavailable; retry shortly")
    response.headers["Retry-After"] = str(down.retry_after)
    return response


def _refusal(exc: GiftwellError) -> Response:
    for cls, status, code in APPLICATION:
        if isinstance(exc, cls):
            return application(status, code, exc.message)
    if isinstance(exc, Conflict):
        return application(409, "CODE_ALREADY_EXISTS" if exc.param == "code" else "CONFLICT", exc.message)
    return application(exc.status if 400 <= exc.status < 500 else 400, exc.code.upper(), exc.message)


def render_stored(fields: dict[str, str]) -> Any:
    """`Tx`'s renderer of a failure an idempotency key stores: the same body as `respond`."""

    def render(request: Request, exc: GiftwellError) -> Response:
        return respond(exc, request, fields)

    return render


def install(app: FastAPI) -> None:
    """Wix's body for what happens outside the operations: an unknown path or method."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "BAD_REQUEST")
        response = application(exc.status_code, code, str(exc.detail))
        if exc.status_code == 405 and exc.headers and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
