"""The dashboard's webhook endpoints page: list the account's endpoints and register one, in the
native format or WizzGift's (the seed's order body, for the order results), for owners and
admins. The new signing secret is shown once, on the result page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from giftwell.domain.errors import GiftwellError
from giftwell.domain.webhooks import ALL, EVENT_TYPES, FORMAT_EVENTS, Format
from giftwell.http.request import get_runtime
from giftwell.services.access import users
from giftwell.services.webhooks import endpoints
from giftwell.web.dashboard import managed_form, manager
from giftwell.web.routes import page

router = APIRouter(include_in_schema=False)
WHAT = "webhook endpoints"


async def _list_page(
    request: Request, current: users.SessionInfo, *, error: str | None = None, form: dict[str, object] | None = None
) -> Response:
    rt = get_runtime(request)
    async with rt.reader() as uow:
        found = await endpoints.list_endpoints(uow, account_id=current.user.account_id)
    context = {
        "user": current.user,
        "csrf": current.csrf,
        "endpoints": found,
        "formats": [(f.value, ", ".join(FORMAT_EVENTS[f]) if f is Format.WIZZGIFT else "every event") for f in Format],
        "event_types": list(EVENT_TYPES.items()),
        "error": error,
        "form": form or {"format": Format.NATIVE.value, "events": []},
    }
    return page(request, "webhooks.html", context, 422 if error else 200)


@router.get("/dashboard/webhooks")
async def list_page(request: Request) -> Response:
    current = await manager(request, what=WHAT)
    if isinstance(current, Response):
        return current
    return await _list_page(request, current)


@router.post("/dashboard/webhooks")
async def register(request: Request) -> Response:
    posted = await managed_form(request, what=WHAT)
    if isinstance(posted, Response):
        return posted
    current, data = posted
    form: dict[str, object] = {
        "url": str(data.get("url") or "").strip(),
        "description": str(data.get("description") or ""),
        "format": str(data.get("format") or Format.NATIVE.value),
        "events": [str(v) for v in data.getlist("events")],
    }
    events = list(form["events"]) or [ALL]  # type: ignore[call-overload]
    try:
        made = await get_runtime(request).transact(
            lambda uow: endpoints.create_endpoint(
                uow,
                account_id=current.user.account_id,
                url=str(form["url"]),
                events=events,
                format=str(form["format"]),
                description=str(form["description"]),
            )
        )
    except GiftwellError as exc:
        return await _list_page(request, current, error=exc.message, form=form)
    return page(request, "webhook_created.html", {"user": current.user, "csrf": current.csrf, "made": made}, 201)
