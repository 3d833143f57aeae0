"""What every dashboard page shares: the signed-in viewer (user, account, role), the navigation,
rendering with the page headers, and the checks every form post passes (same origin, CSRF token,
role), so each page module only says what it shows and which service an action calls.

Roles: owners and admins act; viewers read. Every action is checked here, on the server: a
viewer's page has no action buttons, and a viewer's forged post is refused all the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from giftwell.domain.errors import GiftwellError, ValidationFailed
from giftwell.domain.expiry_policy import ExpiryPolicy, check_policy
from giftwell.domain.money import to_minor
from giftwell.http.request import get_runtime
from giftwell.services.access import accounts, users
from giftwell.services.currencies import currency as check_currency
from giftwell.services.delivery.messages import locale_of
from giftwell.services.delivery.messages import money as format_money
from giftwell.store.uow import UnitOfWork
from giftwell.web import session as ws
from giftwell.web.routes import error_page, forbidden, page, templates

ACTORS = frozenset({"owner", "admin"})


@dataclass(frozen=True, slots=True)
class Viewer:
    session: users.SessionInfo
    account: accounts.AccountInfo

    @property
    def user(self) -> users.UserInfo:
        return self.session.user

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def can_act(self) -> bool:
        return self.user.role in ACTORS

    @property
    def operator(self) -> bool:
        return self.account.is_operator


# (label, path, who sees it: everyone, the operator account's users, or those who may act)
NAV = (
    ("Home", "/dashboard", "all"),
    ("Cards", "/dashboard/cards", "all"),
    ("Orders", "/dashboard/orders", "all"),
    ("Catalog", "/dashboard/catalog", "operator"),
    ("Funding", "/dashboard/funding", "all"),
    ("Reports", "/dashboard/reports", "all"),
    ("Developers", "/dashboard/developers", "all"),
    ("Team", "/dashboard/team", "all"),
    ("Audit log", "/dashboard/audit", "actors"),
    ("Jobs", "/dashboard/jobs", "operator"),
)


def _shown(v: Viewer, who: str) -> bool:
    return who == "all" or (who == "operator" and v.operator) or (who == "actors" and v.can_act)


def _here(request: Request) -> str:
    return request.url.path + ("?" + request.url.query if request.url.query else "")


async def viewer(request: Request, *, operator: bool = False) -> Viewer | Response:
    """The signed-in viewer, or the response to send instead: the sign-in page (coming back
    here afterwards), or 404 for an operator page seen by another account (it does not exist for
    them)."""
    current = await ws.current_session(request)
    if current is None:
        return RedirectResponse("/login?next=" + quote(_here(request), safe=""), status_code=303)
    async with get_runtime(request).reader() as uow:
        acct = await accounts.get_account(uow, current.user.account_id)
    v = Viewer(current, acct)
    if operator and not v.operator:
        return not_found(request, v)
    return v


def render(request: Request, v: Viewer, name: str, context: dict[str, Any], status: int = 200) -> Response:
    nav = [(label, path) for label, path, who in NAV if _shown(v, who)]
    section = max((p for _, p in nav if request.url.path.startswith(p)), key=len, default="/dashboard")
    base = {"user": v.user, "csrf": v.csrf, "viewer": v, "nav": nav, "section": section, "notice": _notice(request)}
    return page(request, name, {**base, **context}, status)


def not_found(request: Request, v: Viewer | None = None) -> Response:
    context: dict[str, Any] = {"path": request.url.path}
    if v is not None:
        return render(request, v, "not_found.html", context, 404)
    return page(request, "not_found.html", context, 404)


# Messages a redirect may show, by key: never text taken from the URL.
NOTICES = {
    "saved": "Saved.",
    "redeemed": "Redeemed.",
    "reloaded": "Reloaded.",
    "adjusted": "Adjusted.",
    "blocked": "Card blocked.",
    "unblocked": "Card unblocked.",
    "disabled": "Disabled.",
    "resent": "Sent again.",
    "cancelled": "Cancelled.",
    "revoked": "Revoked.",
    "rotated": "Secret rotated.",
    "replayed": "Event sent again.",
    "recovered": "Failed deliveries sent again.",
    "retried": "Job queued again.",
    "invited": "Invitation sent.",
    "removed": "Removed.",
    "reset": "Password reset link sent.",
    "imported": "Products imported.",
    "key_added": "Key registered.",
}


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("done", ""))


def done(path: str, notice: str, **query: str) -> Response:
    return RedirectResponse(path + "?" + urlencode({**query, "done": notice}), status_code=303)


async def checked_form(request: Request, v: Viewer, *, act: bool = True) -> FormData | Response:
    """The posted form, once it passes: same origin, the session's CSRF token and (`act`) a role
    that may act. Otherwise the refusal page (403)."""
    form = await request.form()
    if not ws.same_origin(request) or not ws.csrf_ok(v.csrf, form.get("csrf")):
        return forbidden(request)
    if act and not v.can_act:
        return error_page(request, "Not allowed", "Your role (viewer) can look but not act.", 403)
    return form


# What an action answers: a response, or a page to render once its transaction has committed (a
# page that reads the database must not wait on the action's own connection: SQLite has one).
Later = Callable[[], Awaitable[Response]]


async def run_action(
    request: Request,
    *,
    operator: bool = False,
    act: bool = True,
    work: Callable[[UnitOfWork, Viewer, FormData], Awaitable[Response | Later]],
    on_error: Callable[[Viewer, GiftwellError], Awaitable[Response]],
) -> Response:
    """One form post: the viewer, the checks, then `work` in one transaction (committed when it
    returns); a domain error rolls back and `on_error` shows it."""
    v = await viewer(request, operator=operator)
    if isinstance(v, Response):
        return v
    form = await checked_form(request, v, act=act)
    if isinstance(form, Response):
        return form
    try:
        resp = await get_runtime(request).transact(lambda uow: work(uow, v, form))
    except GiftwellError as exc:
        return await on_error(v, exc)
    return resp if isinstance(resp, Response) else await resp()


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def amount(form: FormData, name: str, currency: str) -> int:
    """An amount typed in major units (12.50), converted exactly (more decimals: refused)."""
    raw = field(form, name)
    if not raw:
        raise ValidationFailed(f"{name} is required", param=name)
    return to_minor(raw, check_currency(currency), param=name)


def expiry_policy(form: FormData) -> ExpiryPolicy | None:
    """The expiry policy a form sets (`min_days`, `rule`): none when the days are left empty."""
    days = field(form, "min_days")
    if not days:
        return None
    try:
        return check_policy({"min_days": int(days), "rule": field(form, "rule")}, param="policy")
    except ValueError:
        raise ValidationFailed("minimum lifetime must be a whole number of days", param="min_days") from None


def day_param(value: str, param: str, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        d = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).date()
    except ValueError:
        raise ValidationFailed(f"{param} must be a date (YYYY-MM-DD)", param=param) from None
    return datetime.combine(d, time.max if end else time.min, tzinfo=UTC)


def enum_param(kind: Any, value: str, param: str) -> Any:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise ValidationFailed(f"{param} must be one of {', '.join(k.value for k in kind)}", param=param) from None


_EN = locale_of("en")


def money(value: int | None, currency: str) -> str:
    return "" if value is None else format_money(value, currency, _EN)


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


templates.env.filters["money"] = money
templates.env.filters["when"] = when
