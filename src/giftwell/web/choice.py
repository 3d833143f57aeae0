"""The recipient's page of a choice reward link: `/r/{token}` shows the value left and the products
to pick from; `POST /r/{token}/pick` (CSRF-checked) spends part of it on one product's card and
sends the recipient to that card's own reward page. The form's `pick_key` is the number of picks
the page was shown with, so a double submit (or the same page in two tabs) makes one card."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from giftwell.domain.catalog import Product
from giftwell.domain.errors import GiftwellError, NotFound, RewardGone
from giftwell.http.limits import ip_limited
from giftwell.http.request import get_runtime
from giftwell.services.catalog import products as catalog
from giftwell.services.currencies import currency as check_currency
from giftwell.services.delivery import choice_picks, messages
from giftwell.services.delivery.choice import LinkView
from giftwell.web import reward as pages
from giftwell.web.routes import error_page, forbidden, too_many

router = APIRouter(include_in_schema=False)


def _gone(request: Request) -> Response:
    return error_page(request, "This gift link has expired", "This gift link can no longer be used.", 410)


async def _products(request: Request, link: LinkView) -> list[dict[str, Any]]:
    rt = get_runtime(request)
    loc = messages.locale_of(rt.settings.default_locale)
    out = []
    async with rt.reader() as uow:
        for pid in link.products:
            try:
                p: Product = await catalog.get(uow, pid)
            except NotFound:
                continue
            d = p.denominations
            if d.values:
                amounts = [v for v in d.values if v <= link.unspent_balance]
                rule = ", ".join(messages.money(v, link.currency, loc) for v in d.values)
            else:
                assert d.min is not None
                assert d.max is not None
                amounts = []
                rule = f"{messages.money(d.min, link.currency, loc)} to {messages.money(d.max, link.currency, loc)}"
            affordable = bool(amounts) if d.values else d.min is not None and d.min <= link.unspent_balance
            out.append(
                {
                    "id": p.id,
                    "name": p.name,
                    "image_url": p.image_url,
                    "rule": rule,
                    "fixed": [(_major(v, link.currency), messages.money(v, link.currency, loc)) for v in amounts],
                    "affordable": affordable and p.active,
                }
            )
    return out


async def page(request: Request, link: LinkView, *, error: str | None = None, status: int = 200) -> Response:
    rt = get_runtime(request)
    loc = messages.locale_of(rt.settings.default_locale)
    shown = await _products(request, link)
    names = {p["id"]: p["name"] for p in shown}
    context = {
        "link": link,
        "token": link.token,
        "left_text": messages.money(link.unspent_balance, link.currency, loc),
        "value_text": messages.money(link.initial_balance, link.currency, loc),
        "expires_text": messages.day(link.expires_at, loc),
        "products": shown,
        "picks": [
            (names.get(pk.product, pk.product), messages.money(pk.amount, link.currency, loc)) for pk in link.picks
        ],
        "pick_key": str(len(link.picks)),
        "error": error,
        "csrf_purpose": f"pick:{link.token}",
    }
    return pages.render(request, "choice.html", context, status)


@router.get("/r/{token}")
async def reward_or_choice(request: Request, token: str) -> Response:
    """A choice link's page; any other token is a card's reward page (`web.reward`)."""
    rt = get_runtime(request)
    async with rt.reader() as uow:
        found = await choice_picks.is_choice(uow, token)
    if not found:  # outside the reader: SQLite has one connection per process
        return await pages.reward_page(request, token)
    try:
        link = await rt.transact(lambda uow: choice_picks.open_link(uow, token))
    except RewardGone:
        return _gone(request)
    except NotFound:
        return pages.missing(request)
    return await page(request, link)


def _major(amount: int, currency: str) -> str:
    return str(Decimal(amount).scaleb(-check_currency(currency).exponent))


def _minor(raw: object, currency: str) -> int | None:
    """A major-unit amount from the form in minor units; None when it is not one."""
    try:
        value = Decimal(str(raw or "").strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value > Decimal(10) ** 15:
        return None
    minor = value.scaleb(check_currency(currency).exponent)
    return int(minor) if minor == minor.to_integral_value() else None


@router.post("/r/{token}/pick")
async def pick(request: Request, token: str) -> Response:
    if (limited := await ip_limited(request)) is not None:
        return too_many(request, limited)
    form = await request.form()
    if not pages.csrf_ok(request, form, f"pick:{token}"):
        return forbidden(request)
    try:
        return await _pick(request, token, form)
    except RewardGone:
        return _gone(request)
    except NotFound:
        return pages.missing(request)


async def _pick(request: Request, token: str, form: Any) -> Response:
    rt = get_runtime(request)
    async with rt.reader() as uow:
        link = await choice_picks.peek(uow, token)
    amount = _minor(form.get("amount"), link.currency)
    if amount is None:
        return await page(request, link, error="Enter an amount, like 10 or 12.50.", status=422)
    try:
        done = await choice_picks.pick_once(
            rt,
            token,
            pick_key=str(form.get("pick_key") or "")[:40],
            product_id=str(form.get("product") or "")[:80],
            amount=amount,
        )
    except (RewardGone, NotFound):
        raise
    except GiftwellError as exc:
        async with rt.reader() as uow:
            link = await choice_picks.peek(uow, token)
        return await page(request, link, error=exc.message, status=422)
    return RedirectResponse(done.card_url, status_code=303)
