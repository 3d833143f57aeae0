"""The dialect's error body, Runa's documented one (dialects.md 1.6; the legacy body was never
published): `{"type", "message", "help"}`, with `details` on a `validation_error`.

The services raise Giftwell's errors; this module only chooses the vendor's type and status:
`invalid_api_key` 401 (no key, or one that is not a live token), `forbidden` 403 (a key without
the scope), `bad_request` 400 (a body that is not a JSON object), `invalid_version` 400 (an
`X-Api-Version` other than the legacy one), `validation_error` 422 with `details` (the field in
the seed's own path), `product_validation_error` 422 (a product in `products` not there or not
choosable), `invalid_card_id` 422 (a `card_id` that is no funding source of the caller's),
`currency_mismatch` 422 (a `card_id` in another currency), `insufficient_funds` 422,
`pagination_error` 400, `not_found` 404, `too_many_requests` 429 with Retry-After (our type: Runa
lists none), `internal_server_error` 500 (logged under the request id, never with the body).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from giftwell.domain.errors import (
    GiftwellError,
    InsufficientFunds,
    InsufficientScope,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from giftwell.http.decimal_json import json_response

log = logging.getLogger("giftwell.dialects.wegift")

HELP = "See https://developer.wegift.io and docs/dialects/wegift.md."


class BadRequest(Exception):
    """A body that cannot be read at all: `bad_request` 400."""


class InvalidVersion(Exception):
    """An `X-Api-Version` this surface does not speak: `invalid_version` 400."""


# Native parameter names (the services') as the seed's fields.
def wire_field(param: str | None) -> str | None:
    if param is None:
        return None
    for native, wire in (
        ("funding_source", "card_id"),
        ("reference", "idempotency_key"),
        ("country", "country_code"),
    ):
        if param == native:
            return wire
    if param.startswith("items[") and "].choice.products" in param:
        return "products" + param.split("].choice.products", 1)[1]
    for native, wire in (
        (".amount", ".face_value"),
        (".recipient.email", ".delivery_email"),
        (".currency", ".country"),
    ):
        if param.startswith("items[") and param.endswith(native):
            return param[: -len(native)] + wire
    return param


def body(
    kind: str, message: str, status: int, *, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    out: dict[str, Any] = {"type": kind, "message": message, "help": HELP}
    if details is not None:
        out["details"] = details
    return json_response(out, status, headers)


def _validation(exc: ValidationFailed) -> Response:
    field = wire_field(exc.param)
    message = exc.message
    if field is not None and exc.param is not None and field != exc.param:
        message = message.replace(exc.param, field)
    if field is not None and field.startswith("products"):
        return body("product_validation_error", message, 422, details=[{"field": field, "message": message}])
    if exc.param == "funding_source":
        return body("currency_mismatch", message, 422)
    details = [{"field": field, "message": message}]
    if exc.fields.get("differs"):
        details = [{"field": f"items[{i}].country", "message": message} for i in exc.fields["differs"]]
    return body("validation_error", message, 422, details=details)


# Failures whose type and status depend only on their class: (class, type, status, message;
# None keeps the service's message).
PLAIN: tuple[tuple[type[Exception], str, int, str | None], ...] = (
    (BadRequest, "bad_request", 400, None),
    (InvalidVersion, "invalid_version", 400, None),
    (Unauthenticated, "invalid_api_key", 401, "Missing or invalid 'X-Api-Key' header"),
    (InsufficientFunds, "insufficient_funds", 422, None),
)


def respond(exc: Exception, request: Request) -> Response:
    """The vendor's answer for a failure."""
    for cls, kind, status, message in PLAIN:
        if isinstance(exc, cls):
            return body(kind, message or (exc.message if isinstance(exc, GiftwellError) else str(exc)), status)
    answer: Response
    if isinstance(exc, RateLimited):
        answer = body(
            "too_many_requests", "Too many requests; retry later.", 429, headers={"Retry-After": str(exc.retry_after)}
        )
    elif isinstance(exc, InsufficientScope):
        required = str(exc.fields.get("required", ""))
        answer = body("forbidden", f"This API key may not do this (it lacks the {required} scope).", 403)
    elif isinstance(exc, NotFound) and exc.param == "funding_source":
        answer = body("invalid_card_id", "card_id is not one of your payment methods.", 422)
    elif isinstance(exc, NotFound):
        answer = body("not_found", exc.message[:1].upper() + exc.message[1:], 404)
    elif isinstance(exc, ValidationFailed) and exc.fields.get("rule") == "pagination":
        answer = body("pagination_error", exc.message, 400)
    elif isinstance(exc, ValidationFailed):
        answer = _validation(exc)
    elif isinstance(exc, GiftwellError):
        answer = body(
            "validation_error", exc.message, 422, details=[{"field": wire_field(exc.param), "message": exc.message}]
        )
    else:
        log.exception(
            "wegift %s %s failed unexpectedly (request %s)", request.method, request.url.path, _request_id(request)
        )
        answer = body(
            "internal_server_error", "Something went wrong on our side; retry with the same idempotency_key.", 500
        )
    return answer


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def install(app: FastAPI) -> None:
    """The body for what happens outside the handlers: an unknown path or method."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            return body(
                "bad_request", f"The {request.method} method is not supported here.", 405, headers={"Allow": allowed}
            )
        if exc.status_code == 404:
            return body("not_found", "The requested resource doesn't exist.", 404)
        return body("bad_request", str(exc.detail), exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return body("bad_request", "The request was malformed.", 400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return respond(exc, request)
