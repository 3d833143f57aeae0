"""The Giftcards B2B (Laravel Sanctum) sub-application: `POST /api/giftcards/<endpoint>`.

Each endpoint is a row of `ENDPOINTS`, and `handle` runs every one the same way: authenticate
(the native API's bearer tokens and scopes), read the body with the vendor's field rules, then
call the one use case the family stands for (`services.cards.by_code.act`: find the card by code
in the caller's account, settle its expiry, act, commit) and write its answer in the vendor's
words. Every failure goes to `errors.respond`. No rule of the card's life is decided here: the
services refuse what the card's state or balance does not allow, and this module only words the
refusal. Every lookup by code runs under the guessing guard (`services.access.guessing`), like
the native API's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from starlette.responses import Response

from giftwell.dialects.sanctum import errors, mapping, wire
from giftwell.domain.cards import Card
from giftwell.http.decimal_json import json_response
from giftwell.http.deps import authenticate
from giftwell.http.request import client_ip, get_runtime
from giftwell.services.access import guessing
from giftwell.services.cards import by_code
from giftwell.services.cards.by_code import CodeAction
from giftwell.services.runtime import Runtime

MOUNT = "/api/giftcards"


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    scope: str
    action: CodeAction
    done: str
    failed: str
    takes_amount: bool = False
    takes_reason: bool = False
    # card: {"message", "giftcard"}; balance: that plus a "balance" object; message: {"message"} only.
    shape: Literal["card", "balance", "message"] = "card"


ENDPOINTS = (
    Endpoint(
        "retrieve",
        "cards:read",
        CodeAction.RETRIEVE,
        "Giftcard retrieved successfully",
        "Retrieving giftcard failed",
    ),
    Endpoint(
        "balance",
        "cards:read",
        CodeAction.RETRIEVE,
        "Balance retrieved successfully",
        "Retrieving balance failed",
        shape="balance",
    ),
    Endpoint(
        "activate",
        "cards:write",
        CodeAction.ACTIVATE,
        "Giftcard activated successfully",
        "Activating giftcard failed",
        takes_amount=True,
    ),
    Endpoint(
        "reload",
        "cards:write",
        CodeAction.RELOAD,
        "Giftcard reloaded successfully",
        "Reloading giftcard failed",
        takes_amount=True,
    ),
    Endpoint(
        "redeem",
        "cards:redeem",
        CodeAction.REDEEM,
        "Giftcard redeemed successfully",
        "Redeeming giftcard failed",
        takes_amount=True,
    ),
    Endpoint(
        "block",
        "cards:write",
        CodeAction.BLOCK,
        "Giftcard blocked successfully",
        "Blocking giftcard failed",
        takes_reason=True,
        shape="message",
    ),
    Endpoint(
        "unblock",
        "cards:write",
        CodeAction.UNBLOCK,
        "Giftcard unblocked successfully",
        "Unblocking giftcard failed",
        takes_reason=True,
        shape="message",
    ),
)


def _success(ep: Endpoint, card: Card, *, code: str, brand: str) -> Response:
    body: dict[str, Any] = {"message": ep.done}
    if ep.shape == "message":
        return json_response(body)
    body["giftcard"] = mapping.giftcard(card, code=code, brand=brand)
    if ep.shape == "balance":
        body["balance"] = {"amount": body["giftcard"]["balance"], "currency": card.currency}
    return json_response(body)


async def _execute(rt: Runtime, ep: Endpoint, account_id: str, req: wire.GiftcardRequest) -> Response:
    done = await by_code.act(
        rt,
        account_id=account_id,
        code=req.code,
        action=ep.action,
        amount=req.amount,
        reason=req.reason,
        with_brand=ep.shape != "message",
    )
    return _success(ep, done.card, code=req.code, brand=done.brand)


async def handle(request: Request, ep: Endpoint) -> Response:
    code: str | None = None
    try:
        principal = await authenticate(request)
        principal.require(ep.scope)
        data = wire.parse_body(await request.body(), request.headers.get("content-type", ""))
        req = wire.read(data, amount=ep.takes_amount, reason=ep.takes_reason)
        code = req.code
        rt = get_runtime(request)
        async with guessing.guard(rt, client=principal.token_id, ip=client_ip(request)):
            return await _execute(rt, ep, principal.account_id, req)
    except Exception as exc:  # the one place every failure is put into the vendor's envelope
        return errors.respond(exc, request, action=ep.name, failed=ep.failed, code=code)


def _route(ep: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handle(request, ep)

    endpoint.__name__ = f"giftcards_{ep.name}"
    return endpoint


def create_app(rt: Runtime) -> FastAPI:
    """The sub-application mounted at `MOUNT`; it shares the runtime (and so the database, the
    tokens and the clock) with the native API."""
    # Its own OpenAPI description at /api/giftcards/openapi.json (the fuzz tests read it).
    app = FastAPI(
        title="Giftcards B2B (Sanctum) dialect",
        description="The Giftcards B2B API, spoken by Giftwell: see docs/api.md.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = rt
    errors.install(app)
    for ep in ENDPOINTS:
        app.add_api_route(f"/{ep.name}", _route(ep), methods=["POST"], name=f"giftcards.{ep.name}")
    return app
