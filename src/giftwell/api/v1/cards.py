"""`/v1/cards`: issue, list, look up, move money, change state."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from giftwell.api.deps import TxDep
from giftwell.api.v1.schemas.cards import (
    AdjustIn,
    AmountIn,
    CardCreatedWithDeliveryOut,
    CardCreateIn,
    CardOut,
    LookupIn,
    ReasonIn,
    RedeemIn,
    ReloadIn,
    TransferIn,
    card_json,
)
from giftwell.api.v1.schemas.common import Items, Page, Text, UtcDatetime
from giftwell.api.v1.schemas.delivery import DeliveryOut, NotificationIn, ResendIn
from giftwell.api.v1.schemas.transfers import MovementOut, TransferOut, movement_json
from giftwell.domain import codes
from giftwell.domain.cards import CardAction, CardStatus
from giftwell.http.deps import CardsRead, CardsRedeem, CardsWrite, ClientIp, RuntimeDep
from giftwell.http.tx import json_response
from giftwell.services.access import guessing
from giftwell.services.cards import expiry, history, lifecycle
from giftwell.services.cards import money as card_money
from giftwell.services.cards import search as card_search
from giftwell.services.cards.issuing import IssuedCard
from giftwell.services.delivery import deliveries, gifting
from giftwell.services.delivery.deliveries import DeliveryView

router = APIRouter(prefix="/v1/cards", tags=["cards"])


def _issued(i: IssuedCard, d: DeliveryView | None = None) -> CardCreatedWithDeliveryOut:
    return CardCreatedWithDeliveryOut(
        **CardOut.of(i.card).model_dump(), code=i.code, pin=i.pin, delivery=DeliveryOut.of(d) if d else None
    )


@router.post(
    "",
    status_code=201,
    response_model=CardCreatedWithDeliveryOut,
    summary="Issue a card",
    description="With `notification`, the card is also sent to its recipient (by email or SMS, now or at "
    "`scheduled_at`) in the same transaction: `delivery` in the answer. See docs/delivery.md.",
)
async def create_card(body: CardCreateIn, p: CardsWrite, tx: TxDep) -> Response:
    fmt = codes.CodeFormat(**body.code_format.model_dump()) if body.code_format else codes.DEFAULT_FORMAT

    return await tx.run(
        p,
        lambda uow: gifting.issue_and_send(
            uow,
            account_id=p.account_id,
            notification=body.notification.domain() if body.notification else None,
            currency=body.currency,
            amount=body.amount,
            code=body.code,
            pin=body.pin,
            code_format=fmt,
            serial=body.serial,
            expires_at=body.expires_at,
            sender=body.sender.domain() if body.sender else None,
            recipient=body.recipient.domain() if body.recipient else None,
            metadata=body.metadata,
        ),
        lambda gift: _issued(gift.issued, gift.delivery),
        status=201,
    )


@router.get("", response_model=Page[CardOut], summary="List cards")
async def list_cards(
    p: CardsRead,
    rt: RuntimeDep,
    status: CardStatus | None = None,
    currency: Annotated[Text | None, Query(min_length=3, max_length=3)] = None,
    recipient_email: Text | None = None,
    sender_email: Text | None = None,
    code_suffix: Annotated[Text | None, Query(max_length=4)] = None,
    created_gte: UtcDatetime | None = None,
    created_lte: UtcDatetime | None = None,
    text: Annotated[
        Text | None, Query(max_length=500, description="words (3+ characters) in names, emails, code suffix, metadata")
    ] = None,
    sort: Annotated[
        str, Query(description="a field of the card query (docs/api.md), - for descending")
    ] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Response:
    filters = card_search.CardFilters(
        status, currency, recipient_email, sender_email, code_suffix, created_gte, created_lte, text=text
    )
    await expiry.settle_account(rt, account_id=p.account_id)
    async with rt.reader() as uow:
        page = await card_search.list_cards(
            uow, account_id=p.account_id, filters=filters, sort=sort, limit=limit, cursor=cursor
        )
    return json_response(Page.of(page, CardOut.of))


@router.post(
    "/lookup",
    response_model=CardOut,
    summary="Find a card by its code (and PIN)",
    description="An unknown code, a blocked card and a wrong or missing PIN all answer the same 404. "
    "Failed lookups are counted per token and per address; past the limit every lookup answers 429 "
    "`too_many_attempts` until the window ends.",
)
async def lookup_card(body: LookupIn, p: CardsRead, rt: RuntimeDep, ip: ClientIp, tx: TxDep) -> Response:
    # Through Tx like every POST (Idempotency-Key means the same here); Tx re-raises a stored
    # failure, so the guard counts every failed lookup whatever key it came with.
    async with guessing.guard(rt, client=p.token_id, ip=ip):
        return await tx.run(
            p,
            lambda uow: expiry.settle_and_lookup_with_pin(uow, account_id=p.account_id, code=body.code, pin=body.pin),
            CardOut.of,
        )


@router.get("/{card_id}", response_model=CardOut, summary="Get a card")
async def get_card(card_id: Text, p: CardsRead, rt: RuntimeDep) -> Response:
    return json_response(card_json(await expiry.settle_and_get(rt, account_id=p.account_id, card_id=card_id)))


@router.post("/{card_id}/activate", response_model=MovementOut, summary="Activate an inactive card with a value")
async def activate(card_id: Text, body: AmountIn, p: CardsWrite, tx: TxDep) -> Response:
    return await tx.run(
        p,
        lambda uow: card_money.activate(uow, account_id=p.account_id, card_id=card_id, amount=body.amount),
        movement_json,
    )


@router.post("/{card_id}/reload", response_model=MovementOut, summary="Add value to an active card")
async def reload(card_id: Text, body: ReloadIn, p: CardsWrite, tx: TxDep) -> Response:
    return await tx.run(
        p,
        lambda uow: card_money.reload(
            uow, account_id=p.account_id, card_id=card_id, amount=body.amount, reference=body.reference
        ),
        movement_json,
    )


@router.post("/{card_id}/redeem", response_model=MovementOut, summary="Redeem (or hold) an amount")
async def redeem(card_id: Text, body: RedeemIn, p: CardsRedeem, tx: TxDep) -> Response:
    ttl = timedelta(seconds=body.hold_ttl_seconds) if body.hold_ttl_seconds else None
    if body.capture:
        return await tx.run_alone_first(
            p,
            lambda uow: card_money.redeem_alone(
                uow, account_id=p.account_id, card_id=card_id, amount=body.amount, reference=body.reference
            ),
            lambda uow: card_money.redeem(
                uow, account_id=p.account_id, card_id=card_id, amount=body.amount, reference=body.reference
            ),
            movement_json,
        )
    return await tx.run(
        p,
        lambda uow: card_money.redeem(
            uow,
            account_id=p.account_id,
            card_id=card_id,
            amount=body.amount,
            reference=body.reference,
            capture=body.capture,
            hold_ttl=ttl,
        ),
        movement_json,
    )


@router.post("/{card_id}/transfer", response_model=MovementOut, summary="Move value to another card")
async def transfer(card_id: Text, body: TransferIn, p: CardsWrite, tx: TxDep) -> Response:
    return await tx.run(
        p,
        lambda uow: card_money.transfer(
            uow, account_id=p.account_id, card_id=card_id, to_card=body.to_card, amount=body.amount
        ),
        movement_json,
    )


@router.post("/{card_id}/adjust", response_model=MovementOut, summary="Correct a balance by a signed amount")
async def adjust(card_id: Text, body: AdjustIn, p: CardsWrite, tx: TxDep) -> Response:
    return await tx.run(
        p,
        lambda uow: card_money.adjust(
            uow, account_id=p.account_id, card_id=card_id, amount=body.amount, reason=body.reason
        ),
        movement_json,
    )


def _status_route(action: CardAction, summary: str) -> None:
    async def change(card_id: Text, p: CardsWrite, tx: TxDep, body: ReasonIn | None = None) -> Response:
        reason = body.reason if body else None
        return await tx.run(
            p,
            lambda uow: lifecycle.change_status(
                uow, account_id=p.account_id, card_id=card_id, action=action, reason=reason
            ),
            CardOut.of,
        )

    change.__name__ = f"{action.value}_card"
    router.add_api_route(
        f"/{{card_id}}/{action.value}", change, methods=["POST"], response_model=CardOut, summary=summary
    )


_status_route(CardAction.BLOCK, "Block a card (temporarily)")
_status_route(CardAction.UNBLOCK, "Unblock a card")
_status_route(CardAction.DISABLE, "Disable a card (permanently)")


@router.get("/{card_id}/transfers", response_model=Page[TransferOut], summary="List a card's transfers, newest first")
async def card_transfers(
    card_id: Text,
    p: CardsRead,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Response:
    card = await expiry.settle_and_get(rt, account_id=p.account_id, card_id=card_id)
    async with rt.reader() as uow:
        page = await history.list_transfers(uow, account_id=p.account_id, card_id=card_id, limit=limit, cursor=cursor)
    return json_response(Page.of(page, lambda t: TransferOut.of(t, card.ledger_account_id)))


_SEND = (
    "Deferred sending: deliver a card created without a `notification`. One delivery per card: a card "
    "already scheduled, queued or sent answers 409 `delivery_exists` (use `/resend`). A card is sent at "
    "most once per 30 seconds: sooner answers 429 `resend_too_soon` with `Retry-After`."
)
_RESEND = (
    "Send the card again, as a new delivery: fields left out keep the last delivery's values, so `{}` "
    'resends to the same address and `{"to": ...}` to another. At most once per 30 seconds per card '
    "(counting creation and `/send`): sooner answers 429 `resend_too_soon` with `Retry-After`."
)


@router.post("/{card_id}/send", status_code=201, response_model=DeliveryOut, summary="Send a card", description=_SEND)
async def send_card(card_id: Text, body: NotificationIn, p: CardsWrite, tx: TxDep) -> Response:
    return await tx.run(
        p,
        lambda uow: deliveries.send(uow, account_id=p.account_id, card_id=card_id, notification=body.domain()),
        DeliveryOut.of,
        status=201,
    )


@router.post(
    "/{card_id}/resend", status_code=201, response_model=DeliveryOut, summary="Send a card again", description=_RESEND
)
async def resend_card(card_id: Text, p: CardsWrite, tx: TxDep, body: ResendIn | None = None) -> Response:
    changes = (body or ResendIn()).domain()
    return await tx.run(
        p,
        lambda uow: deliveries.resend(uow, account_id=p.account_id, card_id=card_id, changes=changes),
        DeliveryOut.of,
        status=201,
    )


@router.get(
    "/{card_id}/deliveries", response_model=Items[DeliveryOut], summary="List a card's deliveries, newest first"
)
async def card_deliveries(card_id: Text, p: CardsRead, rt: RuntimeDep) -> Response:
    async with rt.uow() as uow:
        found = await deliveries.list_for_card(uow, account_id=p.account_id, card_id=card_id)
    return json_response(Items.of(found, DeliveryOut.of))
