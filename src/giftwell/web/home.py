"""`/dashboard`: the home page. Liability per currency now, this month's flows, what needs
attention, funding, and two charts over the last 30 days; each figure links to its page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from giftwell.http.request import get_runtime
from giftwell.services.reports import overview, timeline
from giftwell.web import charts
from giftwell.web.pages import render, viewer

router = APIRouter(include_in_schema=False)
CHART_DAYS = 30


@router.get("/dashboard")
async def home(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    async with get_runtime(request).reader() as uow:
        figures = await overview.overview(uow, account_id=v.account.id)
        series = await timeline.timeline(uow, account_id=v.account.id, days=CHART_DAYS)
    drawn = [
        (
            s,
            charts.line_chart([d.liability for d in s.days]),
            charts.bar_chart([d.redeemed for d in s.days]),
        )
        for s in series
    ]
    return render(request, v, "home.html", {"o": figures, "series": drawn, "days": CHART_DAYS})
