"""Rate limits on requests: a decision's figures are kept in the request's state for
`RateLimitHeadersMiddleware` to put on the response, and a refusal raises `RateLimited`, which
each surface words its own way."""

from __future__ import annotations

from fastapi import Request

from giftwell.domain.errors import RateLimited
from giftwell.http.request import client_ip, get_runtime
from giftwell.services.access import ratelimit

# Where a limit's figures wait for `RateLimitHeadersMiddleware` to put them on the response.
RATELIMIT_STATE = "ratelimit"


async def limit(request: Request, decision: ratelimit.Decision) -> None:
    """Keep a rate-limit decision for the response headers; raise `RateLimited` if it refuses."""
    if decision.quota is not None:
        request.scope.setdefault("state", {})[RATELIMIT_STATE] = decision.quota
    decision.check()


async def limit_ip(request: Request) -> None:
    """Per-address rate limit, for routes without a token (sign-in, token endpoints)."""
    rt = get_runtime(request)
    await limit(request, await ratelimit.hit_request(rt, ip=client_ip(request), token_key=None))


async def ip_limited(request: Request) -> RateLimited | None:
    """`limit_ip` for routes that word a refusal their own way (OAuth JSON, an HTML page): the
    refusal to render, or None to go on."""
    try:
        await limit_ip(request)
    except RateLimited as exc:
        return exc
    return None
