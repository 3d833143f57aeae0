"""`/dashboard/audit`: the audit log of administrative actions (who, when, from where, what
changed), filtered by action (one, or a family: `card.*`), dates and, for the operator, account;
newest first, a page at a time, and exported as CSV (the filtered log, oldest first).

Owners and admins read it; a viewer does not (as a viewer's tokens never hold `audit:read`: it
names who did what from where). An account sees its own log, as `GET /v1/audit-events` shows it;
the operator's users see every account's, as `giftwell audit list` does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from giftwell.domain.errors import GiftwellError, ValidationFailed
from giftwell.http.exports import audit_csv
from giftwell.http.request import get_runtime
from giftwell.services.access import accounts
from giftwell.services.audit import records
from giftwell.web.pages import Viewer, day_param, render, viewer
from giftwell.web.routes import error_page

router = APIRouter(include_in_schema=False)
FILTERS = ("account", "action", "from", "to")
PAGE_SIZE = 50


def _query(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "").strip() for k in FILTERS}


def _filters(v: Viewer, q: dict[str, str]) -> dict[str, Any]:
    """The service's filters from the query: an account's users are held to their own log."""
    if q["account"] and not v.operator:
        raise ValidationFailed("only the operator filters by account", param="account")
    if len(q["account"]) > 40:
        raise ValidationFailed("account is an account id", param="account")
    return {
        "account_id": (q["account"] or None) if v.operator else v.account.id,
        "action": q["action"] or None,
        "since": day_param(q["from"], "from"),
        "until": day_param(q["to"], "to", end=True),
    }


async def _reader(request: Request) -> Viewer | Response:
    v = await viewer(request)
    if isinstance(v, Response) or v.can_act:
        return v
    return error_page(
        request, "Not allowed", "Your role (viewer) cannot read the audit log: it names who did what, from where.", 403
    )


@router.get("/dashboard/audit")
async def audit_page(request: Request) -> Response:
    v = await _reader(request)
    if isinstance(v, Response):
        return v
    q = _query(request)
    found, error = None, None
    names: dict[str, str] = {}
    try:
        filters = _filters(v, q)
        async with get_runtime(request).reader() as uow:
            found = await records.list_events(
                uow, **filters, limit=PAGE_SIZE, cursor=request.query_params.get("cursor") or None
            )
            if v.operator:
                names = {a.id: a.name for a in await accounts.list_accounts(uow)}
    except GiftwellError as exc:
        error = exc.message
    shown = {k: x for k, x in q.items() if x}
    context = {
        "q": q,
        "page": found,
        "error": error,
        "names": names,
        "here": "/dashboard/audit?" + urlencode(shown),
        "export": "/dashboard/audit.csv?" + urlencode(shown),
    }
    return render(request, v, "audit.html", context, 422 if error else 200)


@router.get("/dashboard/audit.csv")
async def audit_export(request: Request) -> Response:
    v = await _reader(request)
    if isinstance(v, Response):
        return v
    q = _query(request)
    try:
        events = records.export_in_reads(get_runtime(request), **_filters(v, q))
    except GiftwellError as exc:
        context = {"q": q, "page": None, "error": exc.message, "names": {}, "here": "", "export": ""}
        return render(request, v, "audit.html", context, 422)
    return audit_csv(events, "audit-log.csv")
