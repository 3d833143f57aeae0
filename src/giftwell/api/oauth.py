"""The OAuth 2.0 token and revocation endpoints and the RFC 8414 metadata, plus the conversion
between Starlette requests and the framework-neutral ones the OAuth service takes.

The token endpoint reads the RFC's form encoding and also a JSON object body (the WizzGift seed
sends JSON). Answers and errors are RFC 6749's, not the native error envelope. Both endpoints
take no bearer token, so they are limited per client address (`limit_ip`); past the limit the
answer is 429 `{"error": "slow_down", ...}` with `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from giftwell.http.limits import ip_limited
from giftwell.http.oauth import BadBody, body_params, invalid_request, oauth_request, render, slow_down
from giftwell.http.request import get_runtime
from giftwell.services.access import oauth
from giftwell.services.runtime import Runtime

router = APIRouter(tags=["oauth"])


Answer = Callable[[Runtime, oauth.HttpRequest], Awaitable[oauth.HttpResponse]]


async def _endpoint(request: Request, answer: Answer) -> Response:
    """Limited per address (these endpoints take no bearer token), the body read as a form or
    JSON, the OAuth service's answer rendered as RFC 6749 says."""
    if (limited := await ip_limited(request)) is not None:
        return slow_down(limited)
    try:
        params = await body_params(request)
    except BadBody as exc:
        return invalid_request(str(exc))
    return render(await answer(get_runtime(request), oauth_request(request, params)))


@router.post("/oauth/token", summary="OAuth 2.0 token endpoint (form or JSON body)")
async def token(request: Request) -> Response:
    return await _endpoint(request, oauth.token_response)


@router.post("/oauth/revoke", summary="OAuth 2.0 token revocation (RFC 7009)")
async def revoke(request: Request) -> Response:
    return await _endpoint(request, oauth.revocation_response)


@router.get("/.well-known/oauth-authorization-server", summary="OAuth 2.0 server metadata (RFC 8414)")
async def server_metadata(request: Request) -> Response:
    return Response(orjson.dumps(oauth.metadata(get_runtime(request).settings)), media_type="application/json")
