"""The dialect's one error body, and which of the vendor's codes each refusal is.

Every failure answers `{"errorCode", "errorMessage", "correlationId", "field", "details"}`:
`field` names the offending field in the vendor's own path (`giftItemsInfo[0].activationValue`)
or is null, `details` lists every field problem of a body that broke several rules.

The services raise Giftwell's errors; this module only chooses the vendor's words for them:
- 400 with the vendor's business codes: 8205 no such product, 5310 a product (or its design, or
  its currency) not available, 5307 an activation value the product does not sell, 5311 a
  delivery that cannot be made (mode, email, mobile, date), 5313 a clientOrderNumber already
  used with another request, 5338 more than 10 cards, 6063 insufficient balance, 10466 a
  reversal after 24 hours, 10467 a reversal of an order whose card was used; `GC-4000` for any
  other malformed field (our code: the vendor's generic one was not published);
- 401 `AP01` (the client or key is not known, or lacks the scope) and `AP02` (the token is not
  acceptable); 404 `5318` for an order that is not there and `AP99` for a route that is not;
  429 `GC-4029` with Retry-After;
- 500 `GC-5555` for a transient failure (the database unreachable or busy, a deadlock, a
  timeout): nothing was committed and retrying with the same clientOrderNumber is safe; and
  `GC-9999` for anything else (final), logged under the request id.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from giftwell.dialects.wpay.wire import WireError
from giftwell.domain.errors import (
    Conflict,
    DatabaseUnavailable,
    GiftwellError,
    InsufficientFunds,
    InsufficientScope,
    InvalidState,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from giftwell.domain.signing import INVALID_TOKEN
from giftwell.http import decimal_json
from giftwell.http.failures import transient

log = logging.getLogger("giftwell.dialects.wpay")

BAD_REQUEST = "GC-4000"
MESSAGES = {
    "AP01": "Invalid API Key or API Product Match Not Found",
    "AP02": "Invalid or Expired Token",
    "AP99": "Invalid API Route",
    "GC-5555": "A temporary error occurred: retry with the same clientOrderNumber",
    "GC-9999": "The order could not be processed: do not retry, contact support",
}

# Giftwell's parameter names (the services') as the vendor's fields, first match wins.
_FIELDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r)
    for p, r in (
        (r"^reference$", "clientOrderNumber"),
        (r"^items$", "giftItemsInfo"),
        (r"^items\[(\d+)\]\.product$", r"giftItemsInfo[\1].productId"),
        (r"^items\[(\d+)\]\.amount$", r"giftItemsInfo[\1].activationValue"),
        (r"^items\[(\d+)\]\.design$", r"giftItemsInfo[\1].designId"),
        (r"^items\[(\d+)\]\.currency$", r"giftItemsInfo[\1].currencyCode"),
        (r"^items\[(\d+)\]\.message$", r"giftItemsInfo[\1].personalisationInfo[0].message"),
        (r"^items\[(\d+)\]\.recipient\.email$", r"giftItemsInfo[\1].fulfillmentInfoDto.deliveryInfo[0].email"),
        (r"^items\[(\d+)\]\.recipient\.phone$", r"giftItemsInfo[\1].fulfillmentInfoDto.deliveryInfo[0].mobile"),
        (r"^items\[(\d+)\]\.delivery\.scheduled_at$", r"giftItemsInfo[\1].fulfillmentInfoDto.deliverySchedule"),
        (
            r"^items\[(\d+)\]\.delivery\.image_url$",
            r"giftItemsInfo[\1].personalisationInfo[0].assets.images[0].location",
        ),
        (r"^items\[(\d+)\]\.delivery.*$", r"giftItemsInfo[\1].fulfillmentInfoDto.deliveryInfo[0]"),
        (r"^items\[(\d+)\]\.sender.*$", r"giftItemsInfo[\1].fulfillmentInfoDto.senderInfo"),
        (r"^items\[(\d+)\]\.metadata\.(\w+)$", r"giftItemsInfo[\1].\2"),
        (r"^items\[(\d+)\]\.(\w+)", r"giftItemsInfo[\1].\2"),
        (r"^metadata\.(\w+)$", r"\1"),
        (r"^cards$", "originalClientOrderNumber"),
    )
]
# Vendor codes by the field a refusal names (wire rules, and services' refusals once renamed).
_CODES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\.activationValue$"), "5307"),
    (re.compile(r"\.(designId|currencyCode)$"), "5310"),
    (re.compile(r"\.fulfillmentInfoDto\.(deliveryInfo|deliverySchedule)"), "5311"),
    (re.compile(r"^giftItemsInfo\[\d+\]\.personalisationInfo\[0\]\.assets"), "5311"),
]


def wire_field(param: str | None) -> str | None:
    if not param:
        return None
    for pattern, replacement in _FIELDS:
        if pattern.match(param):
            return pattern.sub(replacement, param)
    return param


def _field_code(field: str | None) -> str:
    for pattern, code in _CODES:
        if field and pattern.search(field):
            return code
    return BAD_REQUEST


def _validation(exc: ValidationFailed) -> tuple[str, str | None]:
    field = wire_field(exc.param)
    if field and field.endswith(".productId"):
        return ("8205" if exc.fields.get("rule") == "unknown" else "5310"), field
    return _field_code(field), field


def _rule(exc: Exception, kind: type[Exception], **fields: Any) -> bool:
    return isinstance(exc, kind) and all(getattr(exc, "fields", {}).get(k) == v for k, v in fields.items())


# Refusals whose vendor code does not depend on the field: (test, HTTP status, code, field).
_FIXED: list[tuple[Callable[[Exception], bool], int, str, str | None]] = [
    (lambda e: _rule(e, Unauthenticated, reason=INVALID_TOKEN), 401, "AP02", None),
    (lambda e: isinstance(e, Unauthenticated | InsufficientScope), 401, "AP01", None),
    (lambda e: isinstance(e, RateLimited), 429, "GC-4029", None),
    # The database out of reach (as the services report it): transient, retry as for any 5555.
    (lambda e: isinstance(e, DatabaseUnavailable), 500, "GC-5555", None),
    (lambda e: isinstance(e, InsufficientFunds), 400, "6063", "giftItemsInfo"),
    (lambda e: isinstance(e, Conflict), 400, "5313", "clientOrderNumber"),
    (lambda e: isinstance(e, NotFound) and e.param == "reference", 404, "5318", None),
    (lambda e: _rule(e, InvalidState, rule="reversal_window"), 400, "10466", "originalClientOrderNumber"),
    (lambda e: _rule(e, InvalidState, rule="card_used"), 400, "10467", "originalClientOrderNumber"),
]


def classify(exc: Exception) -> tuple[int, str, str | None]:
    """(HTTP status, vendor code, vendor field) for a failure."""
    if isinstance(exc, WireError):
        return 400, exc.code or _field_code(exc.field), exc.field
    for test, status, code, field in _FIXED:
        if test(exc):
            return status, code, field
    if isinstance(exc, ValidationFailed):
        code, field = _validation(exc)
        return 400, code, field
    if isinstance(exc, GiftwellError):
        return 400, BAD_REQUEST, wire_field(exc.param)
    return 500, "GC-5555" if transient(exc) else "GC-9999", None


def json_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Amounts with the places they carry (Wpay writes 50.00), times with `Z`."""
    return decimal_json.json_response(body, status, headers, keep_scale=True)


def body(code: str, message: str, *, correlation: str | None, field: str | None, details: Any = ()) -> dict[str, Any]:
    return {
        "errorCode": code,
        "errorMessage": message,
        "correlationId": correlation,
        "field": field,
        "details": [{"field": f or None, "message": m} for f, m in details],
    }


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def respond(exc: Exception, request: Request, *, correlation: str | None) -> Response:
    status, code, field = classify(exc)
    headers: dict[str, str] = {}
    details: list[tuple[str, str]] = []
    if isinstance(exc, WireError):
        message, details = exc.errors[0][1], exc.errors
        if field:
            message = f"{field}: {message}"
    elif isinstance(exc, GiftwellError) and status < 500:
        # The services name Giftwell's fields; the client knows the vendor's.
        message = exc.message.replace(exc.param, field) if exc.param and field else exc.message
        if code in ("AP01", "AP02"):
            message = f"{MESSAGES[code]}: {exc.message}"
            headers["WWW-Authenticate"] = 'Bearer realm="wpay"'
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
    else:
        log.exception("wpay request failed (%s, request %s)", code, request_id(request))
        message = MESSAGES[code]
    return json_response(body(code, message, correlation=correlation, field=field, details=details), status, headers)


def install(app: FastAPI) -> None:
    """The vendor's body for what happens outside the endpoints: an unknown path or method."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        correlation = request.headers.get("x-correlation-id")
        return json_response(body("AP99", MESSAGES["AP99"], correlation=correlation, field=None), 404)
