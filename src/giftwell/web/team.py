"""`/dashboard/team`: the account's users and roles, invitations by email, removal and password
resets (every rule is the service's: `services/access/team.py`); and the public pages a one-time
link opens: `/invite/<token>` (join, choosing a password) and `/reset/<token>` (a new password).
Those two are forms before sign-in: CSRF-bound to the `gw_login` cookie like the sign-in form,
limited per address, and their token never reaches an access log (see `RedactRewardTokens`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from giftwell.domain.access import ROLES
from giftwell.domain.errors import GiftwellError
from giftwell.http.limits import ip_limited
from giftwell.http.request import get_runtime
from giftwell.services.access import team
from giftwell.store.uow import UnitOfWork
from giftwell.web import session as ws
from giftwell.web.pages import Viewer, done, field, render, run_action, viewer
from giftwell.web.routes import error_page, forbidden, page, too_many

router = APIRouter(include_in_schema=False)


async def _team_page(request: Request, v: Viewer, error: str | None = None) -> Response:
    async with get_runtime(request).reader() as uow:
        people = await team.members(uow, account_id=v.account.id)
        invited = await team.pending(uow, account_id=v.account.id)
    roles = [r for r in ROLES if r != "owner" or v.user.role == "owner"]
    context = {"people": people, "invited": invited, "roles": roles, "error": error}
    return render(request, v, "team.html", context, 422 if error else 200)


@router.get("/dashboard/team")
async def team_page(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    return await _team_page(request, v)


def _on_error(request: Request) -> Callable[[Viewer, GiftwellError], Awaitable[Response]]:
    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        return await _team_page(request, v, exc.message)

    return on_error


@router.post("/dashboard/team/invite")
async def invite(request: Request) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        await team.invite(uow, actor=v.user, email=field(form, "email"), role=field(form, "role"))
        return done("/dashboard/team", "invited")

    return await run_action(request, work=work, on_error=_on_error(request))


@router.post("/dashboard/team/{user_id}/{action}")
async def member_action(request: Request, user_id: str, action: str) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        if action == "role":
            await team.change_role(uow, actor=v.user, user_id=user_id, role=field(form, "role"))
            return done("/dashboard/team", "saved")
        if action == "remove":
            await team.remove(uow, actor=v.user, user_id=user_id)
            return done("/dashboard/team", "removed")
        if action == "reset":
            await team.reset_password(uow, actor=v.user, user_id=user_id)
            return done("/dashboard/team", "reset")
        return error_page(request, "Not found", "No such action.", 404)

    return await run_action(request, work=work, on_error=_on_error(request))


def _link_page(
    request: Request, token: str, link: team.Link | None, *, error: str | None = None, status: int = 200
) -> Response:
    rt = get_runtime(request)
    binding, new = ws.login_binding(request)
    context = {"link": link, "token": token, "csrf": ws.login_csrf(rt, binding), "error": error}
    resp = page(request, "link.html", context, status)
    if new:
        ws.set_cookie(request, resp, ws.LOGIN_COOKIE, binding, max_age=3600)
    return resp


def _invalid(request: Request) -> Response:
    return error_page(request, "This link is not valid", "It was used already, has expired, or was never sent.", 404)


async def _show_link(request: Request, token: str) -> Response:
    try:
        async with get_runtime(request).reader() as uow:
            link = await team.access_link(uow, token)
    except GiftwellError:
        return _invalid(request)
    return _link_page(request, token, link)


async def _again(request: Request, token: str, error: str) -> Response:
    try:
        async with get_runtime(request).reader() as uow:
            link = await team.access_link(uow, token)
    except GiftwellError:
        return _invalid(request)
    return _link_page(request, token, link, error=error, status=422)


async def _use_link(request: Request, token: str) -> Response:
    if (limited := await ip_limited(request)) is not None:
        return too_many(request, limited)
    rt = get_runtime(request)
    form = await request.form()
    binding = request.cookies.get(ws.LOGIN_COOKIE)
    if not ws.same_origin(request) or not binding or not ws.csrf_ok(ws.login_csrf(rt, binding), form.get("csrf")):
        return forbidden(request)
    password = str(form.get("password") or "")
    if password != str(form.get("confirm") or ""):
        return await _again(request, token, "The two passwords differ.")
    try:
        await rt.transact(lambda uow: team.accept(uow, token=token, password=password))
    except GiftwellError as exc:
        return await _again(request, token, exc.message) if exc.param == "password" else _invalid(request)
    return RedirectResponse("/login?next=/dashboard", status_code=303)


@router.get("/invite/{token}")
async def show_invite(request: Request, token: str) -> Response:
    return await _show_link(request, token)


@router.post("/invite/{token}")
async def accept_invite(request: Request, token: str) -> Response:
    return await _use_link(request, token)


@router.get("/reset/{token}")
async def show_reset(request: Request, token: str) -> Response:
    return await _show_link(request, token)


@router.post("/reset/{token}")
async def accept_reset(request: Request, token: str) -> Response:
    return await _use_link(request, token)
