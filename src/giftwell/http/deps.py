"""The dependencies every HTTP surface (the native API, the dialects, the pages) shares, as
`Annotated` aliases: the runtime, the caller's address, and the caller by bearer token and scope.

Dependencies are `async def` even when they do not await: FastAPI runs a plain `def` (or a
class) in a worker thread, a thread hand-off on every request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from giftwell.domain.access import SCOPES, Principal
from giftwell.domain.errors import Unauthenticated
from giftwell.http.limits import limit
from giftwell.http.request import client_ip, get_runtime
from giftwell.services.access import ratelimit, tokens
from giftwell.services.runtime import Runtime
from giftwell.telemetry import logs


async def _runtime(request: Request) -> Runtime:
    return get_runtime(request)


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
ClientIp = Annotated[str, Depends(client_ip)]


def _bearer(request: Request, *, allow_bare: bool = False) -> str | None:
    """The token of `Authorization: Bearer <token>`; with `allow_bare`, also of a header that is
    the token alone (`Authorization: <token>`, as some vendors' clients send it)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if allow_bare and not token and scheme.strip():
        return scheme.strip()
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def bearer_token(request: Request) -> str:
    token = _bearer(request)
    if token is None:
        raise Unauthenticated("missing bearer token: send Authorization: Bearer <token>")
    return token


async def authenticate(request: Request, *, allow_bare: bool = False, header: str | None = None) -> Principal:
    """The caller, after counting the request against its address's and its token's limits
    (in one call to the counter store, before the token is even looked up). `header`: the token
    is that header's whole value (a vendor's `X-API-Key`) rather than a bearer token; `allow_bare`:
    `Authorization: <token>` without `Bearer ` is accepted too."""
    rt = get_runtime(request)
    if header is None:
        token = _bearer(request, allow_bare=allow_bare)
    else:
        token = request.headers.get(header, "").strip() or None
    # A prefix of the token's keyed hash names it in the counters without revealing it.
    token_hash = rt.keys.token_hash(token) if token is not None else None
    token_key = token_hash[:32] if token_hash is not None else None
    ip = client_ip(request)
    await limit(request, await ratelimit.hit_request(rt, ip=ip, token_key=token_key))
    if token is None:
        raise Unauthenticated("missing bearer token: send Authorization: Bearer <token>")
    principal = await tokens.check_token(rt, token, token_hash=token_hash)
    # The log lines of the request name the account; the audit log also the token and address.
    logs.annotate(account_id=principal.account_id, token_id=principal.token_id, _ip=ip)
    return principal


def require(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """The caller, who must hold `scope`. The dependency names its scope in `.scope`, so the
    route-table test can read every route's scope from its dependency tree."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    async def dep(request: Request) -> Principal:
        principal = await authenticate(request)
        principal.require(scope)
        return principal

    dep.__name__ = f"require_{scope.replace(':', '_')}"
    dep.scope = scope  # type: ignore[attr-defined]
    return dep


async def _caller(request: Request) -> Principal:
    # Not `Depends(authenticate)`: FastAPI would read its keyword parameters from the query
    # string, letting a caller choose which header holds the token.
    return await authenticate(request)


Authenticated = Annotated[Principal, Depends(_caller)]
CardsRead = Annotated[Principal, Depends(require("cards:read"))]
CardsWrite = Annotated[Principal, Depends(require("cards:write"))]
CardsRedeem = Annotated[Principal, Depends(require("cards:redeem"))]
AccountRead = Annotated[Principal, Depends(require("account:read"))]
AccountWrite = Annotated[Principal, Depends(require("account:write"))]
ProductsRead = Annotated[Principal, Depends(require("products:read"))]
OrdersRead = Annotated[Principal, Depends(require("orders:read"))]
OrdersWrite = Annotated[Principal, Depends(require("orders:write"))]
ReportsRead = Annotated[Principal, Depends(require("reports:read"))]
WebhooksWrite = Annotated[Principal, Depends(require("webhooks:write"))]
Admin = Annotated[Principal, Depends(require("admin"))]
AuditRead = Annotated[Principal, Depends(require("audit:read"))]
