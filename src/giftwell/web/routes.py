"""Sign-in, sign-out and the OAuth authorization (consent) pages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from giftwell.domain.errors import RateLimited
from giftwell.domain.users import LockoutPolicy
from giftwell.http.limits import ip_limited
from giftwell.http.oauth import oauth_request, query_params, render
from giftwell.http.request import get_runtime
from giftwell.services.access import oauth, users
from giftwell.web import session as ws

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))

SIGN_IN_FAILED = "Email or password is incorrect."
# Headers on every page: never cached (CSRF tokens, secrets), never framed (a framed consent
# page could be clickjacked into approving), nothing loaded but our own stylesheet.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    # same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on our own forms.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    resp = templates.TemplateResponse(request, name, context, status_code=status)
    resp.headers.update(PAGE_HEADERS)
    return resp


def error_page(request: Request, title: str, message: str, status: int) -> Response:
    return page(request, "error.html", {"title": title, "message": message}, status)


def forbidden(request: Request) -> Response:
    return error_page(
        request, "Request refused", "This form expired or did not come from this site. Reload and retry.", 403
    )


def too_many(request: Request, exc: RateLimited) -> Response:
    """The per-address limit of the forms (sign-in, consent), as a page."""
    resp = error_page(
        request, "Too many attempts", "Too many requests from your network. Wait a little and retry.", 429
    )
    resp.headers["Retry-After"] = str(exc.retry_after)
    return resp


def _policy(request: Request) -> LockoutPolicy:
    s = get_runtime(request).settings
    return LockoutPolicy(s.login_max_failures, timedelta(seconds=s.login_lockout_seconds))


def _login_page(
    request: Request, *, next_url: str, email: str = "", error: str | None = None, status: int = 200
) -> Response:
    rt = get_runtime(request)
    binding, new = ws.login_binding(request)
    context = {
        "csrf": ws.login_csrf(rt, binding),
        "next": next_url,
        "email": email,
        "error": error,
        "max_failures": rt.settings.login_max_failures,
        "lockout_minutes": rt.settings.login_lockout_seconds // 60,
    }
    resp = page(request, "login.html", context, status)
    if new:
        ws.set_cookie(request, resp, ws.LOGIN_COOKIE, binding, max_age=3600)
    return resp


@router.get("/login")
async def login_form(request: Request) -> Response:
    next_url = ws.safe_next(request.query_params.get("next"))
    if await ws.current_session(request) is not None:
        return RedirectResponse(next_url, status_code=303)
    return _login_page(request, next_url=next_url)


@router.post("/login")
async def login(request: Request) -> Response:
    # Counted first, before the form is even read: a guesser pays for every attempt.
    if (limited := await ip_limited(request)) is not None:
        return too_many(request, limited)
    rt = get_runtime(request)
    form = await request.form()
    next_url = ws.safe_next(form.get("next"))
    binding = request.cookies.get(ws.LOGIN_COOKIE)
    if not ws.same_origin(request) or not binding or not ws.csrf_ok(ws.login_csrf(rt, binding), form.get("csrf")):
        return forbidden(request)
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    new = await rt.transact(
        lambda uow: users.sign_in_and_start_session(
            uow, email=email, password=password, policy=_policy(request), ttl_seconds=rt.settings.session_ttl_seconds
        )
    )
    if new is None:
        return _login_page(request, next_url=next_url, email=email, error=SIGN_IN_FAILED, status=401)
    resp = RedirectResponse(next_url, status_code=303)
    # A fresh session value at every sign-in: nothing set before it (session fixation) survives.
    ws.set_cookie(request, resp, ws.SESSION_COOKIE, new.cookie, max_age=rt.settings.session_ttl_seconds)
    ws.clear_cookie(request, resp, ws.LOGIN_COOKIE)
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    current = await ws.current_session(request)
    if current is not None:
        if not ws.same_origin(request) or not ws.csrf_ok(current.csrf, form.get("csrf")):
            return forbidden(request)
        rt = get_runtime(request)
        await rt.transact(lambda uow: users.end_session(uow, session_id=current.session_id))
    resp = RedirectResponse("/login", status_code=303)
    ws.clear_cookie(request, resp, ws.SESSION_COOKIE)
    return resp


def _oauth_error_page(request: Request, resp: oauth.HttpResponse) -> Response:
    if resp.location is not None:
        return RedirectResponse(resp.location, status_code=303)
    body = resp.body if isinstance(resp.body, dict) else {}
    message = str(body.get("error_description") or body.get("error") or "invalid request")
    return error_page(request, "This sign-in link is not valid", message, 400)


@router.get("/oauth/authorize")
async def authorize(request: Request) -> Response:
    current = await ws.current_session(request)
    if current is None:
        here = request.url.path + ("?" + request.url.query if request.url.query else "")
        return RedirectResponse("/login?next=" + quote(here, safe=""), status_code=303)
    rt = get_runtime(request)
    result = await oauth.check_authorization(rt, oauth_request(request, query_params(request)), current.user)
    if isinstance(result, oauth.HttpResponse):
        return _oauth_error_page(request, result)
    return page(request, "consent.html", {"consent": result, "user": current.user, "csrf": current.csrf})


def _form_params(form: FormData) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if key not in {"csrf", "decision"} and isinstance(value, str):
            params.setdefault(key, []).append(value)
    return params


@router.post("/oauth/authorize")
async def decide(request: Request) -> Response:
    if (limited := await ip_limited(request)) is not None:
        return too_many(request, limited)
    form = await request.form()
    current = await ws.current_session(request)
    if current is None:
        return error_page(request, "Signed out", "Your session ended. Start again from the application.", 401)
    if not ws.same_origin(request) or not ws.csrf_ok(current.csrf, form.get("csrf")):
        return forbidden(request)
    approve = form.get("decision") == "approve"
    rt = get_runtime(request)
    resp = await oauth.decide_authorization(
        rt, oauth_request(request, _form_params(form)), current.user, approve=approve
    )
    if resp.location is not None:
        # 303: the browser follows a POST's redirect with a GET.
        return RedirectResponse(resp.location, status_code=303, headers={"Cache-Control": "no-store"})
    if resp.status >= 400:
        return _oauth_error_page(request, resp)
    return render(resp)
