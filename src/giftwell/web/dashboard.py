"""The dashboard's API clients page: list the account's clients and register one (owners and
admins only). The new secret is shown once, on the result page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from giftwell.domain.access import ACCOUNT_SCOPES, ROLE_SCOPES, SCOPE_ALIASES, SCOPES
from giftwell.domain.clients import GRANT_TYPES
from giftwell.domain.errors import GiftwellError
from giftwell.http.request import get_runtime
from giftwell.services.access import clients
from giftwell.web import session as ws
from giftwell.web.pages import Viewer, render, viewer
from giftwell.web.routes import error_page, forbidden

router = APIRouter(include_in_schema=False)
MANAGERS = {"owner", "admin"}


async def _manager(request: Request) -> Viewer | Response:
    current = await viewer(request)
    if isinstance(current, Response):
        return current
    if current.user.role not in MANAGERS:
        return error_page(request, "Not allowed", "Only owners and admins manage API clients.", 403)
    return current


async def _list_page(
    request: Request, current: Viewer, *, error: str | None = None, form: dict[str, object] | None = None
) -> Response:
    rt = get_runtime(request)
    async with rt.uow() as uow:
        found = await clients.list_clients(uow, account_id=current.user.account_id)
    context = {
        "user": current.user,
        "csrf": current.csrf,
        "clients": found,
        "scopes": [(s, SCOPES[s]) for s in ACCOUNT_SCOPES],
        # WizzGift's names for four of them: a client given one is registered for WizzGift use.
        "aliases": list(SCOPE_ALIASES.items()),
        "grant_types": GRANT_TYPES,
        "error": error,
        "form": form or {"scopes": [], "grant_types": ["authorization_code", "refresh_token"]},
    }
    return render(request, current, "clients.html", context, 422 if error else 200)


@router.get("/dashboard/clients")
async def list_page(request: Request) -> Response:
    current = await _manager(request)
    if isinstance(current, Response):
        return current
    return await _list_page(request, current)


@router.post("/dashboard/clients")
async def register(request: Request) -> Response:
    current = await _manager(request)
    if isinstance(current, Response):
        return current
    data = await request.form()
    if not ws.same_origin(request) or not ws.csrf_ok(current.csrf, data.get("csrf")):
        return forbidden(request)
    form: dict[str, object] = {
        "name": str(data.get("name") or ""),
        "redirect_uris": str(data.get("redirect_uris") or ""),
        "scopes": [str(v) for v in data.getlist("scopes")],
        "grant_types": [str(v) for v in data.getlist("grant_types")],
        "public": data.get("public") == "on",
    }
    rt = get_runtime(request)
    try:
        new = await rt.transact(
            lambda uow: clients.create_client(
                uow,
                account_id=current.user.account_id,
                name=str(form["name"]),
                redirect_uris=[u.strip() for u in str(form["redirect_uris"]).splitlines() if u.strip()],
                scopes=list(form["scopes"]),  # type: ignore[call-overload]
                grant_types=list(form["grant_types"]),  # type: ignore[call-overload]
                public=bool(form["public"]),
                grantable=ROLE_SCOPES[current.user.role],
            )
        )
    except GiftwellError as exc:
        return await _list_page(request, current, error=exc.message, form=form)
    return render(request, current, "client_created.html", {"new": new}, 201)
