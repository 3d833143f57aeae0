"""`/dashboard/developers`: what a developer of the account manages. API clients live on their
own page (`dashboard.py`); here: personal tokens (created with scopes, shown once, revoked),
webhook endpoints (created in the native or WizzGift format with the secret shown once, secret
rotation, disabling, the attempt log, recovery of failed deliveries since a time) and the
events list (replay an event)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from giftwell.domain.access import ACCOUNT_SCOPES, ROLE_SCOPES, SCOPES
from giftwell.domain.errors import GiftwellError, ValidationFailed
from giftwell.domain.jobs import redact
from giftwell.domain.webhooks import EVENT_TYPES, Format
from giftwell.http.request import get_runtime
from giftwell.services import events
from giftwell.services.access import tokens
from giftwell.services.webhooks import endpoints as webhook_endpoints
from giftwell.services.webhooks import replay
from giftwell.store.uow import UnitOfWork
from giftwell.web.pages import Later, Viewer, done, field, not_found, render, run_action, viewer

router = APIRouter(include_in_schema=False)


@router.get("/dashboard/developers")
async def overview(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    return render(request, v, "developers.html", {})


async def _tokens_page(request: Request, v: Viewer, *, error: str | None = None, new: object = None) -> Response:
    async with get_runtime(request).reader() as uow:
        found = await tokens.list_tokens(uow, account_id=v.account.id)
    grantable = ROLE_SCOPES[v.user.role]
    context = {
        "tokens": found,
        "scopes": [(s, SCOPES[s]) for s in ACCOUNT_SCOPES if s in grantable],
        "error": error,
        "new": new,
    }
    return render(request, v, "tokens.html", context, 201 if new else 422 if error else 200)


@router.get("/dashboard/developers/tokens")
async def tokens_page(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    return await _tokens_page(request, v)


@router.post("/dashboard/developers/tokens")
async def create_token(request: Request) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Later:
        made = await tokens.create_token(
            uow,
            account_id=v.account.id,
            scopes=[str(s) for s in form.getlist("scopes")],
            name=field(form, "name")[:200] or None,
            grantable=ROLE_SCOPES[v.user.role],
        )
        # The token is shown once, on the answer to this post (pages are never cached).
        return lambda: _tokens_page(request, v, new=made)

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        return await _tokens_page(request, v, error=exc.message)

    return await run_action(request, work=work, on_error=on_error)


@router.post("/dashboard/developers/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: str) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        await tokens.revoke_token(uow, account_id=v.account.id, token_id=token_id)
        return done("/dashboard/developers/tokens", "revoked")

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        return await _tokens_page(request, v, error=exc.message)

    return await run_action(request, work=work, on_error=on_error)


async def _webhooks_page(request: Request, v: Viewer, *, error: str | None = None, new: object = None) -> Response:
    async with get_runtime(request).reader() as uow:
        found = await webhook_endpoints.list_endpoints(uow, account_id=v.account.id)
    context = {
        "endpoints": found,
        "event_types": list(EVENT_TYPES),
        "formats": [f.value for f in Format],
        "error": error,
        "new": new,
    }
    return render(request, v, "webhooks.html", context, 201 if new else 422 if error else 200)


@router.get("/dashboard/developers/webhooks")
async def webhooks_page(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    return await _webhooks_page(request, v)


@router.post("/dashboard/developers/webhooks")
async def create_endpoint(request: Request) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Later:
        made = await webhook_endpoints.create_endpoint(
            uow,
            account_id=v.account.id,
            url=field(form, "url"),
            events=[str(e) for e in form.getlist("events")] or ["*"],
            format=field(form, "format") or Format.NATIVE.value,
            description=field(form, "description")[:500] or None,
        )
        # The secret is shown once, on the answer to this post (the page is never cached).
        return lambda: _webhooks_page(request, v, new=made)

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        return await _webhooks_page(request, v, error=exc.message)

    return await run_action(request, work=work, on_error=on_error)


async def _endpoint_page(
    request: Request, v: Viewer, endpoint_id: str, *, error: str | None = None, new: object = None
) -> Response:
    status = request.query_params.get("status") or None
    async with get_runtime(request).reader() as uow:
        ep = await webhook_endpoints.access_endpoint(uow, account_id=v.account.id, endpoint_id=endpoint_id)
        attempts = await replay.list_attempts(
            uow,
            account_id=v.account.id,
            endpoint_id=endpoint_id,
            event_id=None,
            status=status if status in ("succeeded", "failed") else None,
            limit=25,
            cursor=request.query_params.get("cursor"),
        )
        shown = {
            a.event: await events.access_event(uow, account_id=v.account.id, event_id=a.event) for a in attempts.data
        }
    context = {
        "ep": ep,
        "attempts": attempts,
        "events": shown,
        "redact": redact,
        "error": error,
        "new": new,
        "now": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M"),
    }
    return render(request, v, "webhook_endpoint.html", context, 201 if new else 422 if error else 200)


@router.get("/dashboard/developers/webhooks/{endpoint_id}")
async def endpoint_page(request: Request, endpoint_id: str) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    try:
        return await _endpoint_page(request, v, endpoint_id)
    except GiftwellError:
        return not_found(request, v)


def _since(form: FormData, name: str) -> datetime | None:
    raw = field(form, name)
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a date and time", param=name) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@router.post("/dashboard/developers/webhooks/{endpoint_id}/{action}")
async def endpoint_action(request: Request, endpoint_id: str, action: str) -> Response:
    here = f"/dashboard/developers/webhooks/{endpoint_id}"

    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response | Later:
        acct = v.account.id
        if action == "rotate":
            made = await webhook_endpoints.rotate_secret(
                uow, account_id=acct, endpoint_id=endpoint_id, overlap_seconds=None
            )
            # Shown once the rotation has committed (SQLite has one connection: a page read
            # inside the action's transaction would wait on it).
            return lambda: _endpoint_page(request, v, endpoint_id, new=made)
        if action in ("disable", "enable"):
            await webhook_endpoints.update_endpoint(
                uow, account_id=acct, endpoint_id=endpoint_id, patch={"enabled": action == "enable"}
            )
            return done(here, "saved")
        if action == "recover":
            since = _since(form, "since")
            if since is None:
                raise ValidationFailed("since is required", param="since")
            await replay.recover(
                uow, account_id=acct, endpoint_id=endpoint_id, since=since, until=_since(form, "until")
            )
            return done(here, "recovered")
        if action == "replay":
            await replay.replay_event(uow, account_id=acct, event_id=field(form, "event"), endpoint_id=endpoint_id)
            return done(here, "replayed")
        raise ValidationFailed("no such action", param="action")

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        try:
            return await _endpoint_page(request, v, endpoint_id, error=exc.message)
        except GiftwellError:
            return not_found(request, v)

    return await run_action(request, work=work, on_error=on_error)


@router.get("/dashboard/developers/events")
async def events_page(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    kind = request.query_params.get("type") or None
    async with get_runtime(request).reader() as uow:
        found = await events.list_events(
            uow,
            account_id=v.account.id,
            type=kind if kind in EVENT_TYPES else None,
            created_gte=None,
            created_lte=None,
            limit=50,
            cursor=request.query_params.get("cursor"),
        )
    context = {"page": found, "type": kind or "", "event_types": list(EVENT_TYPES)}
    return render(request, v, "events.html", context)


@router.post("/dashboard/developers/events/{event_id}/replay")
async def replay_event(request: Request, event_id: str) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        await replay.replay_event(uow, account_id=v.account.id, event_id=event_id, endpoint_id=None)
        return done("/dashboard/developers/events", "replayed")

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        return render(request, v, "events.html", {"page": None, "error": exc.message, "event_types": []}, 422)

    return await run_action(request, work=work, on_error=on_error)
