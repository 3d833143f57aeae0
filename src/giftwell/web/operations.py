"""Dashboard pages for money and operations: funding (prepaid balances and their statement),
reports (liability at an instant, breakage, cards expiring soon with their CSV), and the
operator's job queue (queued, running and dead jobs; retry a dead one). The catalog is
`catalog.py`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, Response

from giftwell.domain.errors import GiftwellError, ValidationFailed
from giftwell.domain.reports import DEFAULT_DORMANT_DAYS
from giftwell.http.exports import cards_csv
from giftwell.http.request import get_runtime
from giftwell.services.access import accounts
from giftwell.services.funding import balances, receipts, sources
from giftwell.services.queue import jobs, workers
from giftwell.services.reports import breakage, expiring, liability
from giftwell.store.uow import UnitOfWork
from giftwell.web.pages import Viewer, done, expiry_policy, not_found, render, run_action, viewer
from giftwell.web.routes import PAGE_HEADERS

router = APIRouter(include_in_schema=False)
# The printable receipt carries its own small inline stylesheet (the API serves the same page).
RECEIPT_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}


@router.get("/dashboard/funding")
async def funding(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    async with get_runtime(request).reader() as uow:
        found = await sources.list_sources(uow, account_id=v.account.id)
        statement = await balances.statement(
            uow, account_id=v.account.id, limit=50, cursor=request.query_params.get("cursor")
        )
        paid = await receipts.list_receipts(
            uow, account_id=v.account.id, limit=25, cursor=request.query_params.get("receipts")
        )
    return render(request, v, "funding.html", {"sources": found, "statement": statement, "receipts": paid})


@router.get("/dashboard/funding/receipts/{receipt_id}")
async def receipt(request: Request, receipt_id: str) -> Response:
    """The printable receipt (the same page as the API's `Accept: text/html`)."""
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    try:
        async with get_runtime(request).reader() as uow:
            found = await receipts.get(uow, account_id=v.account.id, receipt_id=receipt_id)
            html = await receipts.render_html(uow, found)
    except GiftwellError:
        return not_found(request, v)
    return HTMLResponse(html, headers=RECEIPT_HEADERS)


@router.get("/dashboard/reports")
async def reports(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    q = {k: request.query_params.get(k, "").strip() for k in ("as_of", "rate", "dormant", "days")}
    q = {"rate": "0.1", "dormant": str(DEFAULT_DORMANT_DAYS), "days": "30"} | {k: x for k, x in q.items() if x}
    context: dict[str, Any] = {"q": q, "error": None}
    try:
        days, dormant = int(q["days"]), int(q["dormant"])
    except ValueError:
        days, dormant = 30, DEFAULT_DORMANT_DAYS
        context["error"] = "days must be whole numbers"
    try:
        async with get_runtime(request).reader() as uow:
            context["liability"] = await liability.liability(uow, account_id=v.account.id, as_of=_utc(q.get("as_of")))
            context["breakage"] = await breakage.breakage(
                uow, account_id=v.account.id, rate=q["rate"], dormant_after_days=dormant
            )
            context["expiring"] = await expiring.expiring(uow, account_id=v.account.id, days=days, limit=50)
    except GiftwellError as exc:
        context["error"] = exc.message
    return render(request, v, "reports.html", context, 422 if context["error"] else 200)


def _utc(value: str | None) -> datetime | None:
    """A `datetime-local` value is read as UTC (the dashboard shows every time in UTC)."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("as of must be a date and time (YYYY-MM-DDTHH:MM)", param="as_of") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@router.post("/dashboard/reports/expiry-policy")
async def account_expiry_policy(request: Request) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        await accounts.set_expiry_policy(uow, account_id=v.account.id, policy=expiry_policy(form))
        return done("/dashboard/reports", "saved")

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        return render(request, v, "reports.html", {"q": {}, "error": exc.message}, 422)

    return await run_action(request, work=work, on_error=on_error)


@router.get("/dashboard/reports/expiring.csv")
async def expiring_csv(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    try:
        days = int(request.query_params.get("days", "30"))
        if not 1 <= days <= 3660:
            raise ValueError
    except ValueError:
        return render(request, v, "reports.html", {"q": {}, "error": "days must be 1 to 3660"}, 422)
    rt = get_runtime(request)
    return cards_csv(expiring.export_expiring(rt, account_id=v.account.id, days=days), f"expiring-{days}d.csv")


@router.get("/dashboard/jobs")
async def jobs_page(request: Request) -> Response:
    v = await viewer(request, operator=True)
    if isinstance(v, Response):
        return v
    return await _jobs_page(request, v)


async def _jobs_page(request: Request, v: Viewer, error: str | None = None) -> Response:
    async with get_runtime(request).reader() as uow:
        found = {state: await jobs.list_jobs(uow, state=state, limit=50) for state in ("queued", "running", "dead")}
        stats = await workers.queue_stats(uow)
        seen = await workers.list_workers(uow)
    kinds = sorted({*stats.queued, *stats.running, *stats.dead})
    queue = [
        (k, stats.queued.get(k, 0), stats.running.get(k, 0), stats.dead.get(k, 0), stats.oldest_due_age.get(k))
        for k in kinds
    ]
    context = {"jobs": found, "queue": queue, "workers": seen, "alive": stats.workers_alive, "error": error}
    return render(request, v, "jobs.html", context, 422 if error else 200)


@router.post("/dashboard/jobs/{job_id}/retry")
async def retry_job(request: Request, job_id: str) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        await jobs.retry(uow, job_id)
        return done("/dashboard/jobs", "retried")

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        return await _jobs_page(request, v, exc.message)

    return await run_action(request, operator=True, work=work, on_error=on_error)
