"""Web sessions in cookies, CSRF tokens and the same-origin check for the dashboard's forms.

`gw_session` holds the session's random value (the database keeps only its keyed hash). Before
sign-in, `gw_login` binds the sign-in form's CSRF token the same way. Both cookies are HttpOnly
and SameSite=Lax, and Secure whenever the page itself was served over https.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from starlette.responses import Response

from giftwell.http.request import client_ip, get_runtime
from giftwell.services.access import users
from giftwell.services.runtime import Runtime
from giftwell.telemetry import logs

SESSION_COOKIE = "gw_session"
LOGIN_COOKIE = "gw_login"
DEFAULT_NEXT = "/dashboard"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        # The request's own scheme: X-Forwarded-Proto is not trusted (no trusted-proxy setting).
        secure=request.url.scheme == "https",
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https")


async def current_session(request: Request) -> users.SessionInfo | None:
    rt = get_runtime(request)
    async with rt.uow() as uow:
        info = await users.access_session(uow, request.cookies.get(SESSION_COOKIE))
    if info is not None:
        # Log lines name the account; the audit log also the user and the address.
        logs.annotate(account_id=info.user.account_id, user_id=info.user.id, _ip=client_ip(request))
    return info


def login_binding(request: Request) -> tuple[str, bool]:
    """The pre-sign-in cookie value (made when missing) and whether it is new."""
    value = request.cookies.get(LOGIN_COOKIE)
    if value and len(value) < 100:
        return value, False
    return secrets.token_urlsafe(32), True


def login_csrf(rt: Runtime, binding: str) -> str:
    return rt.keys.csrf_token("login:" + binding)


def same_origin(request: Request) -> bool:
    """A form post must come from our own pages: when the browser says where from (Origin), it
    must be this site. Browsers send Origin on every cross-site POST, so this stops them even if
    a CSRF token were to leak."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    ours = {f"{request.url.scheme}://{request.url.netloc}", get_runtime(request).settings.base_url}
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" in ours


def csrf_ok(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())


def safe_next(value: object) -> str:
    """Only a local path: `next` must never send a signed-in user to another site."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith(("//", "/\\")):
        return DEFAULT_NEXT
    return value
