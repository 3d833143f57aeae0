"""Between Starlette requests and the framework-neutral ones the OAuth service takes: the token
endpoint's body (RFC 6749's form encoding, and a JSON object, which the WizzGift seed sends), the
authorization request's query, and the service's answers as responses."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from giftwell.domain.errors import RateLimited
from giftwell.http.request import get_runtime
from giftwell.services.access import oauth

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class BadBody(ValueError):
    pass


def _json_params(raw: bytes) -> dict[str, list[str]]:
    try:
        data = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise BadBody("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadBody("The JSON body must be an object.")
    params: dict[str, list[str]] = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadBody(f"The JSON member {key} must be a string.")
        params[str(key)] = [str(value)]
    return params


async def body_params(request: Request) -> dict[str, list[str]]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        return _json_params(await request.body())
    if ctype == "application/x-www-form-urlencoded":
        form = await request.form()
        params: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                params.setdefault(key, []).append(value)
        return params
    raise BadBody("Send application/x-www-form-urlencoded or application/json.")


def oauth_request(request: Request, params: dict[str, list[str]]) -> oauth.HttpRequest:
    # The public base URL, not the Host header: it is the issuer, and Authlib refuses plain
    # http for it unless it is a loopback address.
    base = get_runtime(request).settings.base_url
    return oauth.HttpRequest(request.method, base + request.url.path, dict(request.headers), params)


def query_params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def render(resp: oauth.HttpResponse) -> Response:
    headers = dict(resp.headers)
    if isinstance(resp.body, dict):
        return Response(orjson.dumps(resp.body), status_code=resp.status, headers=headers)
    return Response(resp.body, status_code=resp.status, headers=headers)


def invalid_request(message: str) -> Response:
    body: dict[str, Any] = {"error": "invalid_request", "error_description": message}
    return Response(orjson.dumps(body), 400, headers=_NO_STORE, media_type="application/json")


def slow_down(exc: RateLimited) -> Response:
    """A rate limit in the OAuth error format (`slow_down`, the word RFC 8628 uses for it)."""
    body = {"error": "slow_down", "error_description": "Too many requests from this address; retry later."}
    headers = {**_NO_STORE, "Retry-After": str(exc.retry_after)}
    return Response(orjson.dumps(body), 429, headers=headers, media_type="application/json")
