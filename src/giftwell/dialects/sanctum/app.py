"""The Giftcards B2B (Laravel Sanctum) sub-application: `POST /api/giftcards/<endpoint>`.

Each endpoint is a row of `ENDPOINTS`, and `handle` runs every one the same way: authenticate
(the native API's bearer tokens and scopes), read the body with the vendor's field rules, then in
one unit of work find the card by code in the caller's account, convert the amount into the
card's minor units and call the one service the endpoint stands for. Every failure goes to
`errors.respond`. No rule of the card's life is decided here: the services refuse what the card's
state or balance does not allow, and this module only words the refusal. Every lookup by code
runs under the guessing guard (`services.guessing`), like the native API's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from starlette.responses import Response

from giftwell.api.deps import authenticate, client_ip, get_runtime
from giftwell.dialects.sanctum import errors, mapping, wire
from giftwell.domain.cards import Card, CardAction
from giftwell.domain.money import to_minor
from giftwell.services.access import accounts, guessing
from giftwell.services.cards import expiry, lifecycle
from giftwell.services.cards import money as card_money
from giftwell.services.cards import reads as cards
from giftwell.services.currencies import currency
from giftwell.services.runtime import Runtime
from giftwell.store.uow import UnitOfWork

MOUNT = "/api/giftcards"


@dataclass(frozen=True, slots=True)
class Call:
    """What an endpoint's service call needs: the caller's account, the card found by its code,
    the amount in the card's minor units (endpoints that take one) and the reason (block, unblock)."""

    account_id: str
    card: Card
    amount: int | None
    reason: str | None

    @property
    def minor(self) -> int:
        assert self.amount is not None, "endpoint declares takes_amount"
        return self.amount


Operation = Callable[[UnitOfWork, Call], Awaitable[Card]]


async def _as_found(uow: UnitOfWork, call: Call) -> Card:
    return call.card


async def _activate(uow: UnitOfWork, call: Call) -> Card:
    m = await card_money.activate(uow, account_id=call.account_id, card_id=call.card.id, amount=call.minor)
    return m.card


async def _reload(uow: UnitOfWork, call: Call) -> Card:
    m = await card_money.reload(uow, account_id=call.account_id, card_id=call.card.id, amount=call.minor)
    return m.card


async def _redeem(uow: UnitOfWork, call: Call) -> Card:
    m = await card_money.redeem(uow, account_id=call.account_id, card_id=call.card.id, amount=call.minor, capture=True)
    return m.card


def _status(action: CardAction) -> Operation:
    async def change(uow: UnitOfWork, call: Call) -> Card:
        return await lifecycle.change_status(
            uow, account_id=call.account_id, card_id=call.card.id, action=action, reason=call.reason
        )

    return change


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    scope: str
    operation: Operation
    done: str
    failed: str
    takes_amount: bool = False
    takes_reason: bool = False
    # card: {"message", "giftcard"}; balance: that plus a "balance" object; message: {"message"} only.
    shape: Literal["card", "balance", "message"] = "card"
    writes: bool = True


ENDPOINTS = (
    Endpoint(
        "retrieve",
        "cards:read",
        _as_found,
        "Giftcard retrieved successfully",
        "Retrieving giftcard failed",
        writes=False,
    ),
    Endpoint(
        "balance",
        "cards:read",
        _as_found,
        "Balance retrieved successfully",
        "Retrieving balance failed",
        shape="balance",
        writes=False,
    ),
    Endpoint(
        "activate",
        "cards:write",
        _activate,
        "Giftcard activated successfully",
        "Activating giftcard failed",
        takes_amount=True,
    ),
    Endpoint(
        "reload",
        "cards:write",
        _reload,
        "Giftcard reloaded successfully",
        "Reloading giftcard failed",
        takes_amount=True,
    ),
    Endpoint(
        "redeem",
        "cards:redeem",
        _redeem,
        "Giftcard redeemed successfully",
        "Redeeming giftcard failed",
        takes_amount=True,
    ),
    Endpoint(
        "block",
        "cards:write",
        _status(CardAction.BLOCK),
        "Giftcard blocked successfully",
        "Blocking giftcard failed",
        takes_reason=True,
        shape="message",
    ),
    Endpoint(
        "unblock",
        "cards:write",
        _status(CardAction.UNBLOCK),
        "Giftcard unblocked successfully",
        "Unblocking giftcard failed",
        takes_reason=True,
        shape="message",
    ),
)


def _success(ep: Endpoint, card: Card, *, code: str, brand: str) -> Response:
    body: dict[str, Any] = {"message": ep.done}
    if ep.shape == "message":
        return mapping.json_response(body)
    body["giftcard"] = mapping.giftcard(card, code=code, brand=brand)
    if ep.shape == "balance":
        body["balance"] = {"amount": body["giftcard"]["balance"], "currency": card.currency}
    return mapping.json_response(body)


async def _execute(rt: Runtime, ep: Endpoint, account_id: str, req: wire.GiftcardRequest) -> Response:
    async with rt.uow() as uow:
        found = await cards.lookup(uow, account_id=account_id, code=req.code)
        card = await expiry.settled(uow, found)  # a card past its date reads as expired
        # The amount means major units of the card's currency; to_minor refuses extra decimals.
        amount = to_minor(req.amount, currency(card.currency)) if req.amount is not None else None
        after = await ep.operation(uow, Call(account_id, card, amount, req.reason))
        brand = ""
        if ep.shape != "message":
            brand = mapping.brand_name(after) or (await accounts.get_account(uow, account_id)).name
        response = _success(ep, after, code=req.code, brand=brand)
        if ep.writes or card is not found:
            await uow.commit()
    return response


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
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.runtime = rt
    errors.install(app)
    for ep in ENDPOINTS:
        app.add_api_route(f"/{ep.name}", _route(ep), methods=["POST"], name=f"giftcards.{ep.name}")
    return app
