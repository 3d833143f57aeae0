"""The native error envelope: `{"error": {"type", "code", "message", "param", "request_id"}}`.

One place maps every failure to it: domain errors by their code, request validation to
`validation_error` naming the field, unknown routes to `not_found`, anything else to a 500 that
logs the traceback (never the request body) under the request id.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from giftwell.domain.errors import DatabaseUnavailable, GiftwellError, InsufficientScope, RateLimited, Unauthenticated
from giftwell.http.outage import as_unavailable

log = logging.getLogger("giftwell.api")


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def error_response(
    request: Request,
    *,
    status: int,
    type: str,
    code: str,
    message: str,
    param: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    err: dict[str, Any] = {
        "type": type,
        "code": code,
        "message": message,
        "param": param,
        "request_id": request_id(request),
    }
    if extra:
        err.update({k: v for k, v in extra.items() if k not in err})
    return Response(orjson.dumps({"error": err}), status_code=status, media_type="application/json", headers=headers)


def domain_error_response(request: Request, exc: GiftwellError) -> Response:
    headers = None
    if isinstance(exc, Unauthenticated):
        challenge = 'Bearer realm="giftwell"'
        if exc.fields.get("reason") == "invalid_token":
            challenge += ', error="invalid_token"'
        headers = {"WWW-Authenticate": challenge}
    elif isinstance(exc, InsufficientScope) and isinstance(exc.fields.get("required"), str):
        # RFC 6750 section 3.1: the token is fine but lacks the scope the route needs.
        headers = {
            "WWW-Authenticate": f'Bearer realm="giftwell", error="insufficient_scope", scope="{exc.fields["required"]}"'
        }
    elif isinstance(exc, RateLimited | DatabaseUnavailable):
        headers = {"Retry-After": str(exc.retry_after)}
    extra = {k: v for k, v in exc.fields.items() if k != "reason"}
    return error_response(
        request,
        status=exc.status,
        type=exc.type,
        code=exc.code,
        message=exc.message,
        param=exc.param,
        extra=extra,
        headers=headers,
    )


def validation_param(loc: Any) -> str | None:
    """`('body', 'items', 0, 'amount')` -> `items[0].amount`: list positions in brackets, the way
    the services name a field inside a list."""
    out = ""
    for p in loc:
        if p in ("body", "query", "path", "header"):
            continue
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or None


def validation_response(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    param = validation_param(first.get("loc", ()))
    msg = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        message, param = "request body is not valid JSON", None
    elif first.get("type") == "missing":
        message = f"{param} is required" if param else "request body is required"
    else:
        message = f"{param}: {msg}" if param else msg
    details = [{"param": validation_param(e.get("loc", ())), "message": str(e.get("msg"))} for e in errors[:20]]
    return error_response(
        request,
        status=422,
        type="invalid_request_error",
        code="validation_error",
        message=message,
        param=param,
        extra={"errors": details} if len(details) > 1 else None,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(GiftwellError)
    async def _domain(request: Request, exc: GiftwellError) -> Response:
        return domain_error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return validation_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = "no such route" if exc.status_code == 404 else str(exc.detail)
        return error_response(request, status=exc.status_code, type="invalid_request_error", code=code, message=message)

    # Registered by class, not only in the catch-all (which Starlette re-raises after answering):
    # a database that is down is a 503 and nothing more.
    for cls in (DBAPIError, SATimeoutError, OSError):
        app.add_exception_handler(cls, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        down = as_unavailable(exc)
        if down is not None:
            return unavailable_response(request, exc, down)
        log.exception("unhandled error on %s %s (request %s)", request.method, request.url.path, request_id(request))
        return error_response(
            request,
            status=500,
            type="api_error",
            code="internal_error",
            message="an unexpected error occurred; quote the request_id to support",
            # This handler runs outside the request-id middleware: set the header here.
            headers={"X-Request-Id": request_id(request)},
        )


async def _database(request: Request, exc: Exception) -> Response:
    down = as_unavailable(exc)
    if down is None:
        raise exc  # not an outage: the catch-all logs it and answers 500
    return unavailable_response(request, exc, down)


def unavailable_response(request: Request, exc: BaseException, down: DatabaseUnavailable) -> Response:
    log.warning("database unavailable (request %s): %s", request_id(request), type(exc).__name__)
    response = domain_error_response(request, down)
    response.headers["X-Request-Id"] = request_id(request)
    return response
