"""The dialect's error envelope: every failure becomes the vendor's `{"message": ...}` body here.

Domain errors are mapped by class: an unknown code (or another account's) is 404 "Giftcard not
found"; too little money to redeem is 422 "Insufficient balance" with what is available; any
other refusal by the services (a card state that forbids the action, a concurrent change) is
422 "<Action> giftcard failed". A rate limit or the guessing guard is Laravel's throttle answer,
429 "Too Many Attempts." with Retry-After; a database that cannot be reached is 503 "Service
Unavailable" with Retry-After. Field errors use Laravel's validation body. Anything unexpected
is a 500 "Server error" whose traceback is logged under the request id, never with the request
body or the code.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from giftwell.dialects.sanctum.mapping import major, unknown_giftcard
from giftwell.dialects.sanctum.wire import InvalidInput
from giftwell.domain.errors import (
    GiftwellError,
    InsufficientFunds,
    InsufficientScope,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from giftwell.http.decimal_json import decimal_text, json_response
from giftwell.http.outage import as_unavailable

log = logging.getLogger("giftwell.dialects.sanctum")

INVALID = "The given data was invalid."
THROTTLED = "Too Many Attempts."  # Laravel's ThrottleRequests wording
UNAVAILABLE = "Service Unavailable"
NOT_FOUND = "Giftcard not found"
# Domain parameter names as the vendor's fields.
WIRE_FIELDS = {"code": "giftcard_code", "amount": "amount", "reason": "reason"}


def _field_message(field: str, exc: ValidationFailed) -> str:
    """Laravel-style wording for a field the domain refused."""
    rule = exc.fields.get("rule")
    decimals = exc.fields.get("decimals")
    if rule == "decimal_places" and isinstance(decimals, int):
        if decimals == 0:
            return f"The {field} must be an integer."
        return f"The {field} must have at most {decimals} decimal places."
    if rule == "max" and isinstance(decimals, int) and isinstance(exc.fields.get("max"), int):
        limit = Decimal(exc.fields["max"]).scaleb(-decimals)
        return f"The {field} must not be greater than {decimal_text(limit)}."
    return f"The {field} is invalid."


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def _insufficient(exc: InsufficientFunds) -> dict[str, Any] | None:
    available, cur = exc.fields.get("available"), exc.fields.get("currency")
    if not isinstance(available, int) or not isinstance(cur, str):  # pragma: no cover - the services set both
        return None
    return {"message": "Insufficient balance", "balance": {"amount": major(available, cur), "currency": cur}}


def respond(exc: Exception, request: Request, *, action: str, failed: str, code: str | None) -> Response:
    """The response for a failure of `action` (an endpoint name); `code` is the code sent, once
    the request passed its field rules."""
    status = 422
    body: dict[str, Any] = {"message": failed}
    if isinstance(exc, RateLimited):
        response = json_response({"message": THROTTLED}, 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    down = as_unavailable(exc)
    if down is not None:
        # Laravel's answer while the application is down for maintenance.
        response = json_response({"message": UNAVAILABLE}, 503)
        response.headers["Retry-After"] = str(down.retry_after)
        return response
    if isinstance(exc, InvalidInput):
        body = {"message": INVALID, "errors": exc.errors}
    elif isinstance(exc, Unauthenticated):
        status, body = 401, {"message": "Unauthenticated."}
    elif isinstance(exc, InsufficientScope):
        status, body = 403, {"message": "This action is unauthorized."}
    elif isinstance(exc, NotFound):
        status, body = 404, {"message": NOT_FOUND}
        if action == "retrieve" and code is not None:
            body["giftcard"] = unknown_giftcard(code)
    elif isinstance(exc, InsufficientFunds) and action == "redeem":
        body = _insufficient(exc) or body
    elif isinstance(exc, ValidationFailed):
        field = WIRE_FIELDS.get(exc.param or "code", exc.param or "giftcard_code")
        body = {"message": INVALID, "errors": {field: [_field_message(field, exc)]}}
    elif not isinstance(exc, GiftwellError):
        log.exception("giftcards %s failed unexpectedly (request %s)", action, request_id(request))
        status, body = 500, {"message": "Server error"}
    return json_response(body, status)


def install(app: FastAPI) -> None:
    """Laravel's bodies for what happens outside the endpoints: an unknown path or method."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "POST")
            message = f"The {request.method} method is not supported for this route. Supported methods: {allowed}."
            response = json_response({"message": message}, 405)
            response.headers["Allow"] = allowed
            return response
        message = "Not Found" if exc.status_code == 404 else str(exc.detail)
        return json_response({"message": message}, exc.status_code)
