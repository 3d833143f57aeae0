"""The recipient's pages: the reward page behind a link (`/r/{token}`, Reveal as a CSRF-checked
POST) and the public balance check (`/balance`, under the guessing guard). No sign-in: a
`gw_public` cookie (HttpOnly, SameSite=Strict, random) binds each form's CSRF token."""

from __future__ import annotations

import secrets
from typing import Any

import segno
from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from giftwell.domain.errors import CodeNotFound, NotFound, RewardGone, TooManyAttempts, ValidationFailed
from giftwell.http.limits import ip_limited
from giftwell.http.request import client_ip, get_runtime
from giftwell.services.access import guessing
from giftwell.services.cards import expiry
from giftwell.services.delivery import messages, reward
from giftwell.web import session as ws
from giftwell.web.routes import PAGE_HEADERS, error_page, forbidden, templates, too_many

router = APIRouter(include_in_schema=False)
PUBLIC_COOKIE = "gw_public"
NOT_FOUND = "We could not find a card with this code and PIN. Check them and try again."
# The reward page shows the card's picture (any https host) and runs one script of ours (the copy
# button). Referrer-Policy same-origin: the token in the URL never reaches the image's host.
REWARD_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def _binding(request: Request) -> tuple[str, bool]:
    value = request.cookies.get(PUBLIC_COOKIE)
    if value and 20 <= len(value) < 100:
        return value, False
    return secrets.token_urlsafe(32), True


def _csrf(request: Request, binding: str, purpose: str) -> str:
    return get_runtime(request).keys.csrf_token(f"public:{purpose}:{binding}")


def csrf_ok(request: Request, form: Any, purpose: str) -> bool:
    binding = request.cookies.get(PUBLIC_COOKIE)
    if not binding:
        return False
    return ws.same_origin(request) and ws.csrf_ok(_csrf(request, binding, purpose), form.get("csrf"))


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    binding, new = _binding(request)
    purpose = context.pop("csrf_purpose", None)
    if purpose is not None:
        context["csrf"] = _csrf(request, binding, purpose)
    resp = templates.TemplateResponse(request, name, context, status_code=status)
    resp.headers.update(REWARD_HEADERS)
    if new:
        resp.set_cookie(
            PUBLIC_COOKIE,
            binding,
            max_age=86400,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return resp


def _gone(request: Request) -> Response:
    return error_page(request, "This gift card is not available", "This gift card can no longer be used.", 410)


def missing(request: Request) -> Response:
    return error_page(request, "Link not found", "This gift card link is not valid. Check the link you received.", 404)


async def _presentation(request: Request, link: reward.LinkView) -> messages.Presentation:
    rt = get_runtime(request)
    async with rt.reader() as uow:
        last = await reward.last_delivery(uow, link.card.id)
        return await messages.present(
            uow,
            link.card,
            locale=link.locale,
            sender_name=last.sender_name if last else None,
            recipient_name=last.recipient_name if last else None,
            message=last.message if last else None,
            image_url=last.image_url if last else None,
        )


@router.get("/r/{token}")
async def reward_page(request: Request, token: str) -> Response:
    rt = get_runtime(request)
    try:
        link = await rt.transact(lambda uow: reward.open_link(uow, token))
    except RewardGone:
        return _gone(request)
    except NotFound:
        return missing(request)
    p = await _presentation(request, link)
    return render(request, "reward.html", {"p": p, "token": token, "revealed": None, "csrf_purpose": f"reveal:{token}"})


@router.post("/r/{token}/reveal")
async def reveal(request: Request, token: str) -> Response:
    if (limited := await ip_limited(request)) is not None:
        return too_many(request, limited)
    form = await request.form()
    if not csrf_ok(request, form, f"reveal:{token}"):
        return forbidden(request)
    rt = get_runtime(request)
    try:
        shown = await rt.transact(lambda uow: reward.reveal(uow, token))
    except RewardGone:
        return _gone(request)
    except NotFound:
        return missing(request)
    p = await _presentation(request, shown.link)
    qr = Markup(segno.make(shown.code, error="m").svg_inline(scale=5, border=2, title="QR code of the card's code"))  # noqa: S704 - segno's own SVG of our code
    revealed = {"code": shown.code, "pin": shown.pin, "qr": qr}
    return render(request, "reward.html", {"p": p, "token": token, "revealed": revealed, "csrf_purpose": None})


@router.get("/balance")
async def balance_form(request: Request) -> Response:
    return render(request, "balance.html", {"result": None, "error": None, "csrf_purpose": "balance"})


@router.post("/balance")
async def balance_check(request: Request) -> Response:
    if (limited := await ip_limited(request)) is not None:
        return too_many(request, limited)
    form = await request.form()
    if not csrf_ok(request, form, "balance"):
        return forbidden(request)
    rt = get_runtime(request)
    code = str(form.get("code") or "")[:100]
    pin = str(form.get("pin") or "")[:100] or None
    try:
        # No token here: the guard counts failed lookups per address only.
        async with guessing.guard(rt, client=None, ip=client_ip(request)):
            card = await expiry.settle_and_lookup_public(rt, code=code, pin=pin)
        async with rt.reader() as uow:
            p = await messages.present(uow, card, locale=None)
    except TooManyAttempts as exc:
        resp = error_page(
            request, "Too many attempts", "Too many failed checks from your network. Wait a while and retry.", 429
        )
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    except (CodeNotFound, ValidationFailed):
        return render(request, "balance.html", {"result": None, "error": NOT_FOUND, "csrf_purpose": "balance"}, 404)
    return render(request, "balance.html", {"result": p, "error": None, "csrf_purpose": "balance"})
