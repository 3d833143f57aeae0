"""Request dependencies, as `Annotated` aliases: the runtime, the caller (by scope), and `Tx`,
which runs one use case in one transaction with `Idempotency-Key` handling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Request
from pydantic import BaseModel
from starlette.responses import Response

from giftwell.api.errors import domain_error_response
from giftwell.domain.access import SCOPES, Principal
from giftwell.domain.errors import GiftwellError, RateLimited, Unauthenticated
from giftwell.domain.ratelimit import client_address
from giftwell.services.access import idempotency, ratelimit, tokens
from giftwell.services.runtime import Runtime
from giftwell.store.uow import UnitOfWork

T = TypeVar("T")


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def` (or a
# class) in a worker thread, a thread hand-off on every request.
async def _runtime(request: Request) -> Runtime:
    return get_runtime(request)


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


def client_ip(request: Request) -> str:
    """The caller's address: the socket peer, or what a trusted proxy says it forwarded."""
    rt = get_runtime(request)
    peer = request.client.host if request.client else ""
    if not rt.trusted_proxies:
        return peer
    return client_address(peer, request.headers.getlist("x-forwarded-for"), rt.trusted_proxies)


ClientIp = Annotated[str, Depends(client_ip)]

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


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def bearer_token(request: Request) -> str:
    token = _bearer(request)
    if token is None:
        raise Unauthenticated("missing bearer token: send Authorization: Bearer <token>")
    return token


async def authenticate(request: Request) -> Principal:
    """The caller, after counting the request against its address's and its token's limits
    (in one call to the counter store, before the token is even looked up)."""
    rt = get_runtime(request)
    token = _bearer(request)
    # A prefix of the token's keyed hash names it in the counters without revealing it.
    token_key = rt.keys.token_hash(token)[:32] if token is not None else None
    await limit(request, await ratelimit.hit_request(rt, ip=client_ip(request), token_key=token_key))
    if token is None:
        raise Unauthenticated("missing bearer token: send Authorization: Bearer <token>")
    async with rt.reader() as uow:
        return await tokens.authenticate(uow, token)


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


Authenticated = Annotated[Principal, Depends(authenticate)]
CardsRead = Annotated[Principal, Depends(require("cards:read"))]
CardsWrite = Annotated[Principal, Depends(require("cards:write"))]
CardsRedeem = Annotated[Principal, Depends(require("cards:redeem"))]
AccountRead = Annotated[Principal, Depends(require("account:read"))]
AccountWrite = Annotated[Principal, Depends(require("account:write"))]
ProductsRead = Annotated[Principal, Depends(require("products:read"))]
OrdersRead = Annotated[Principal, Depends(require("orders:read"))]
OrdersWrite = Annotated[Principal, Depends(require("orders:write"))]
WebhooksWrite = Annotated[Principal, Depends(require("webhooks:write"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def json_response(model: BaseModel, status: int = 200) -> Response:
    return Response(orjson.dumps(model.model_dump(mode="json")), status_code=status, media_type="application/json")


class Tx:
    """Runs one use case in one transaction and answers with its rendering.

    With an `Idempotency-Key` header the response is stored in the same transaction and replayed
    for a retry with the same key and body; a failure the caller caused (a domain error) is
    stored too, so the retry gets the same answer.
    """

    def __init__(self, request: Request) -> None:
        self.request = request
        self.rt = get_runtime(request)

    async def run(
        self,
        principal: Principal,
        use_case: Callable[[UnitOfWork], Awaitable[T]],
        render: Callable[[T], BaseModel],
        *,
        status: int | Callable[[T], int] = 200,
    ) -> Response:
        """`status` may depend on the result (an order answers 202 while it is still pending)."""
        key = self.request.headers.get("idempotency-key")
        if key is None:
            async with self.rt.uow() as uow:
                result = await use_case(uow)
                response = json_response(render(result), _status(status, result))
                await uow.commit()
            return response
        return await self._idempotent(principal.account_id, idempotency.check_key(key), use_case, render, status)

    async def _idempotent(
        self,
        account_id: str,
        key: str,
        use_case: Callable[[UnitOfWork], Awaitable[T]],
        render: Callable[[T], BaseModel],
        status: int | Callable[[T], int],
    ) -> Response:
        body = await self.request.body()
        fingerprint = idempotency.request_hash(self.request.method, self.request.url.path, body)
        stored = await idempotency.claim(self.rt, account_id=account_id, key=key, fingerprint=fingerprint)
        if stored is not None:
            return Response(
                stored.body,
                status_code=stored.status,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        try:
            async with self.rt.uow() as uow:
                result = await use_case(uow)
                response = json_response(render(result), _status(status, result))
                await idempotency.complete(
                    uow, account_id=account_id, key=key, status=response.status_code, body=bytes(response.body)
                )
                await uow.commit()
            return response
        except GiftwellError as exc:
            failed = domain_error_response(self.request, exc)
            async with self.rt.uow() as uow:
                await idempotency.complete(
                    uow, account_id=account_id, key=key, status=failed.status_code, body=bytes(failed.body)
                )
                await uow.commit()
            # Re-raised, not returned: the app's one error handler renders it (the same body as
            # stored), and wrappers such as the guessing guard still see the failure.
            raise
        except BaseException:
            await idempotency.release(self.rt, account_id=account_id, key=key)
            raise


def _status(status: int | Callable[[T], int], result: T) -> int:
    return status(result) if callable(status) else status


async def _tx(request: Request) -> Tx:
    return Tx(request)


TxDep = Annotated[Tx, Depends(_tx)]


def page_out(page: Any, render: Callable[[Any], BaseModel]) -> dict[str, Any]:
    return {"data": [render(x) for x in page.data], "has_more": page.has_more, "next_cursor": page.next_cursor}
