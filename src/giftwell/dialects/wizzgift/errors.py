"""The dialect's error envelope: every failure on `/api/b2b` becomes the seed's body,

    {"success": false, "message": "..."}

with the seed's status table: 400 a malformed body or a missing parameter (`wire.BadRequest`),
401 no valid token, 403 a scope the token lacks (named the seed's way, `createOrder`), 404, 422 a
value the services refuse (more decimals than the currency has, an amount out of range, a
`referenceId` already used for another order, too little balance), 429 with `Retry-After`, 500
for anything unexpected (logged under the request id, never with the body). A database that
cannot be reached is 503 with `Retry-After`, as everywhere in Giftwell (the seed: "codes in the
5xx range indicate an error with WizzGift's servers", retried with backoff), never a 422 that
would tell the client its request was wrong. The native envelope never appears on this mount.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from giftwell.dialects.wizzgift.wire import BadRequest
from giftwell.domain.access import ALIAS_OF
from giftwell.domain.errors import (
    GiftwellError,
    InsufficientScope,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from giftwell.http.decimal_json import json_response
from giftwell.http.outage import as_unavailable

log = logging.getLogger("giftwell.dialects.wizzgift")

SERVER_ERROR = "Something went wrong on our side; retry with exponential backoff."
UNAVAILABLE = "The service is briefly unavailable; retry with exponential backoff."
# The seed's table has no 409: a conflict (a referenceId used for another order) is a request
# that failed validation, 422.
SEED_STATUSES = frozenset({400, 401, 403, 404, 422, 429, 500})


def failure(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return json_response({"success": False, "message": message}, status, headers)


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def respond(exc: Exception, request: Request) -> Response:
    """The seed's answer for a failure."""
    headers: dict[str, str] | None = None
    down = as_unavailable(exc)
    if down is not None:
        status, message, headers = 503, UNAVAILABLE, {"Retry-After": str(down.retry_after)}
    elif isinstance(exc, BadRequest):
        status, message = 400, str(exc)
    elif isinstance(exc, RateLimited):
        status, message, headers = 429, "Too many requests; retry later.", {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, Unauthenticated):
        status, message = 401, "Invalid or missing access token."
        headers = {"WWW-Authenticate": 'Bearer realm="giftwell"'}
    elif isinstance(exc, InsufficientScope):
        required = str(exc.fields.get("required", ""))
        status, message = 403, f"The access token must have the {ALIAS_OF.get(required, required)} scope."
    elif isinstance(exc, NotFound):
        status, message = 404, exc.message[:1].upper() + exc.message[1:]
    elif isinstance(exc, GiftwellError) and exc.status >= 500:
        log.warning("wizzgift %s %s: %s (request %s)", request.method, request.url.path, exc.code, request_id(request))
        status, message = 500, SERVER_ERROR
    elif isinstance(exc, GiftwellError):
        status, message = (exc.status if exc.status in SEED_STATUSES else 422), exc.message
    else:
        log.exception(
            "wizzgift %s %s failed unexpectedly (request %s)", request.method, request.url.path, request_id(request)
        )
        status, message = 500, SERVER_ERROR
    return failure(message, status, headers)


def install(app: FastAPI) -> None:
    """The envelope for what happens outside the handlers: an unknown path or method."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            return failure(f"The {request.method} method is not supported here.", 405, {"Allow": allowed})
        if exc.status_code == 404:
            return failure("The requested resource doesn't exist.", 404)
        return failure(str(exc.detail), exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return failure("The request was malformed or is missing required parameters.", 400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return respond(exc, request)
