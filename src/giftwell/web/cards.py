"""`/dashboard/cards`: the card list (search, pages, CSV export of the filtered list without
codes), a card's page (balance, holds, ledger timeline, deliveries and link opens, actions by
role) and issuing a card (with an email, the code shown once)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from giftwell.domain.cards import Card, CardAction, CardStatus, Party
from giftwell.domain.delivery import Channel, DeliveryStatus, Notification
from giftwell.domain.errors import GiftwellError, ValidationFailed
from giftwell.http.exports import cards_csv
from giftwell.http.request import get_runtime
from giftwell.services.cards import expiry, history, lifecycle, reads
from giftwell.services.cards import money as card_money
from giftwell.services.cards import search as card_search
from giftwell.services.delivery import deliveries, gifting, reward
from giftwell.services.pagination import MAX_LIMIT
from giftwell.store.uow import UnitOfWork
from giftwell.web.pages import (
    Viewer,
    amount,
    day_param,
    done,
    enum_param,
    field,
    not_found,
    render,
    run_action,
    viewer,
)

router = APIRouter(include_in_schema=False)
FILTERS = ("q", "email", "name", "status", "currency", "from", "to", "delivery", "delivery_days")
PAGE_SIZE = 25
CURRENCIES = ("EUR", "USD", "GBP", "JPY", "CHF", "SEK", "AUD", "CAD", "KWD")


def _days_back(value: str, now: datetime) -> datetime | None:
    """`delivery_days`: deliveries updated in the last N days (the home page links 7)."""
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 3660:
        raise ValidationFailed("delivery_days must be a whole number of days, 1 to 3660", param="delivery_days")
    return now - timedelta(days=int(value))


def filters_of(q: dict[str, str], now: datetime) -> card_search.CardFilters:
    return card_search.CardFilters(
        delivery_since=_days_back(q.get("delivery_days", ""), now),
        status=enum_param(CardStatus, q.get("status", ""), "status"),
        currency=q.get("currency") or None,
        recipient_email=q.get("email") or None,
        code_suffix=q.get("q") or None,
        created_gte=day_param(q.get("from", ""), "from"),
        created_lte=day_param(q.get("to", ""), "to", end=True),
        name=q.get("name") or None,
        delivery_status=enum_param(DeliveryStatus, q.get("delivery", ""), "delivery"),
    )


def _query(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "").strip() for k in FILTERS}


@router.get("/dashboard/cards")
async def list_page(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    q = _query(request)
    rt = get_runtime(request)
    found, error = None, None
    try:
        filters = filters_of(q, rt.clock())
        await expiry.settle_account(rt, account_id=v.account.id)
        async with rt.reader() as uow:
            found = await card_search.list_cards(
                uow,
                account_id=v.account.id,
                filters=filters,
                limit=PAGE_SIZE,
                cursor=request.query_params.get("cursor"),
            )
    except GiftwellError as exc:
        error = exc.message
    here = "/dashboard/cards?" + urlencode({k: v_ for k, v_ in q.items() if v_})
    context = {
        "q": q,
        "page": found,
        "error": error,
        "statuses": [s.value for s in CardStatus],
        "delivery_statuses": [s.value for s in DeliveryStatus],
        "here": here,
        "export": here.replace("/dashboard/cards?", "/dashboard/cards.csv?"),
    }
    return render(request, v, "cards.html", context, 422 if error else 200)


@router.get("/dashboard/cards.csv")
async def export(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    try:
        filters = filters_of(_query(request), get_runtime(request).clock())
    except GiftwellError as exc:
        return render(request, v, "cards.html", {"q": _query(request), "page": None, "error": exc.message}, 422)
    rt = get_runtime(request)

    async def every() -> AsyncIterator[Card]:
        cursor: str | None = None
        while True:
            async with rt.reader() as uow:  # a short read per page: nothing held while the file downloads
                found = await card_search.list_cards(
                    uow, account_id=v.account.id, filters=filters, limit=MAX_LIMIT, cursor=cursor
                )
            for c in found.data:
                yield c
            if not found.has_more:
                return
            cursor = found.next_cursor

    return cards_csv(every(), "cards.csv")


def _issue_form(request: Request, v: Viewer, form: dict[str, str], error: str | None = None) -> Response:
    return render(
        request, v, "card_new.html", {"form": form, "error": error, "currencies": CURRENCIES}, 422 if error else 200
    )


@router.get("/dashboard/cards/new")
async def new_card(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    return _issue_form(request, v, {"currency": "EUR"})


ISSUE_FIELDS = ("currency", "amount", "expires_on", "recipient_name", "recipient_email", "sender_name", "message")


@router.post("/dashboard/cards")
async def issue(request: Request) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        cur = field(form, "currency")
        to = field(form, "recipient_email")
        notify = form.get("send") == "on"
        if notify and not to:
            raise ValidationFailed("recipient email is required to send the card", param="recipient_email")
        note = (
            Notification(
                Channel.EMAIL,
                to,
                recipient_name=field(form, "recipient_name") or None,
                sender_name=field(form, "sender_name") or None,
                message=field(form, "message") or None,
            )
            if notify
            else None
        )
        expires = day_param(field(form, "expires_on"), "expires_on", end=True)
        gift = await gifting.issue_and_send(
            uow,
            account_id=v.account.id,
            notification=note,
            currency=cur,
            amount=amount(form, "amount", cur),
            expires_at=expires,
            recipient=Party(field(form, "recipient_name") or None, to or None),
            sender=Party(field(form, "sender_name") or None, None),
        )
        context = {"issued": gift.issued, "delivery": gift.delivery}
        return render(request, v, "card_issued.html", context, 201)

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        form = await request.form()
        return _issue_form(request, v, {k: field(form, k) for k in ISSUE_FIELDS}, exc.message)

    return await run_action(request, work=work, on_error=on_error)


async def card_page(request: Request, v: Viewer, card_id: str, *, error: str | None = None) -> Response:
    rt = get_runtime(request)
    card = await expiry.settle_and_get(rt, account_id=v.account.id, card_id=card_id)
    async with rt.reader() as uow:
        timeline = await history.list_transfers(
            uow, account_id=v.account.id, card_id=card_id, limit=50, cursor=request.query_params.get("cursor")
        )
        sent = await deliveries.list_for_card(uow, account_id=v.account.id, card_id=card_id)
        link = await reward.link_stats(uow, card_id)
    holds = [t for t in timeline.data if t.status.value == "pending"]
    context = {"card": card, "timeline": timeline, "holds": holds, "deliveries": sent, "link": link, "error": error}
    return render(request, v, "card.html", context, 422 if error else 200)


@router.get("/dashboard/cards/{card_id}")
async def show(request: Request, card_id: str) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    try:
        return await card_page(request, v, card_id)
    except GiftwellError:
        return not_found(request, v)


Action = Callable[[UnitOfWork, Viewer, Card, FormData], Awaitable[str]]


async def _reload(uow: UnitOfWork, v: Viewer, c: Card, form: FormData) -> str:
    await card_money.reload(uow, account_id=v.account.id, card_id=c.id, amount=amount(form, "amount", c.currency))
    return "reloaded"


async def _redeem(uow: UnitOfWork, v: Viewer, c: Card, form: FormData) -> str:
    await card_money.redeem(
        uow,
        account_id=v.account.id,
        card_id=c.id,
        amount=amount(form, "amount", c.currency),
        reference=field(form, "reference") or None,
    )
    return "redeemed"


async def _adjust(uow: UnitOfWork, v: Viewer, c: Card, form: FormData) -> str:
    reason = field(form, "reason")
    if not reason:
        raise ValidationFailed("an adjustment needs a reason", param="reason")
    await card_money.adjust(
        uow, account_id=v.account.id, card_id=c.id, amount=amount(form, "amount", c.currency), reason=reason[:500]
    )
    return "adjusted"


def _status(action: CardAction, notice: str) -> Action:
    async def change(uow: UnitOfWork, v: Viewer, c: Card, form: FormData) -> str:
        reason = field(form, "reason")[:500] or None
        await lifecycle.change_status(uow, account_id=v.account.id, card_id=c.id, action=action, reason=reason)
        return notice

    return change


async def _resend(uow: UnitOfWork, v: Viewer, c: Card, form: FormData) -> str:
    """Send again (to the same address, or another), or a first time (a channel and an address)."""
    to = field(form, "to") or None
    channel = enum_param(Channel, field(form, "channel"), "channel")
    changes = deliveries.Resend(channel=channel, to=to)
    await deliveries.resend(uow, account_id=v.account.id, card_id=c.id, changes=changes)
    return "resent"


ACTIONS: dict[str, Action] = {
    "reload": _reload,
    "redeem": _redeem,
    "adjust": _adjust,
    "block": _status(CardAction.BLOCK, "blocked"),
    "unblock": _status(CardAction.UNBLOCK, "unblocked"),
    "disable": _status(CardAction.DISABLE, "disabled"),
    "resend": _resend,
}


@router.post("/dashboard/cards/{card_id}/{action}")
async def act(request: Request, card_id: str, action: str) -> Response:
    handler = ACTIONS.get(action)

    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        if handler is None:
            raise ValidationFailed("no such action", param="action")
        card = await reads.get(uow, account_id=v.account.id, card_id=card_id)
        notice = await handler(uow, v, card, form)
        return done(f"/dashboard/cards/{card_id}", notice)

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        try:
            return await card_page(request, v, card_id, error=exc.message)
        except GiftwellError:
            return not_found(request, v)

    return await run_action(request, work=work, on_error=on_error)
