"""The web pages: sign-in, the OAuth consent page, the dashboard, and the recipient's reward and
balance pages (Jinja2 templates, one small stylesheet, no build step)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

_SECRET_PATH = re.compile(r"/(r|invite|reset)/[^/?#\s\"]+")


def _redact(text: str) -> str:
    return _SECRET_PATH.sub(lambda m: f"/{m.group(1)}/[redacted]", text)


class RedactRewardTokens(logging.Filter):
    """A reward link's token, and a team link's (an invitation, a password reset), is a bearer
    secret in the URL path: access logs (uvicorn's) show `/r/[redacted]` (`/invite/...`,
    `/reset/...`) instead. A proxy in front keeps its own logs: configure it likewise."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and _SECRET_PATH.search(a) for a in record.args):
            record.args = tuple(_redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and _SECRET_PATH.search(record.msg):
            record.msg = _redact(record.msg)
        return True


# Paths that belong to machine clients: their 404 stays the API's JSON whatever they accept.
_MACHINE_PATHS = (
    "/v1/",
    "/v2/",
    "/api/",
    "/gifting/",
    "/gift-cards/",
    "/oauth/token",
    "/oauth/revoke",
    "/.well-known/",
)


def wants_page(request: Request) -> bool:
    """A browser navigating (a GET that accepts HTML) outside the API's paths."""
    return (
        request.method in ("GET", "HEAD")
        and "text/html" in request.headers.get("accept", "")
        and not request.url.path.startswith(_MACHINE_PATHS)
    )


async def not_found_page(request: Request) -> Response:
    """The HTML 404, with the navigation when someone is signed in."""
    from giftwell.web import pages
    from giftwell.web import session as ws

    current = await ws.current_session(request)
    if current is None:
        return pages.not_found(request)
    v = await pages.viewer(request)
    return v if isinstance(v, Response) else pages.not_found(request, v)


def install(app: FastAPI) -> None:
    from giftwell.web import (
        audit,
        cards,
        catalog,
        choice,
        dashboard,
        developers,
        home,
        operations,
        orders,
        reward,
        routes,
        signing,
        team,
    )

    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactRewardTokens) for f in access.filters):
        access.addFilter(RedactRewardTokens())

    app.include_router(routes.router)
    app.include_router(dashboard.router)
    app.include_router(home.router)
    app.include_router(cards.router)
    app.include_router(orders.router)
    app.include_router(catalog.router)
    app.include_router(operations.router)
    app.include_router(audit.router)
    app.include_router(developers.router)
    app.include_router(signing.router)
    app.include_router(team.router)
    # Before `reward`: its `/r/{token}` answers a choice link's token, and hands any other over.
    app.include_router(choice.router)
    app.include_router(reward.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
