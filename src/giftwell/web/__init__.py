"""The web pages: sign-in, the OAuth consent page, API clients, and the recipient's reward and
balance pages (Jinja2 templates, one small stylesheet, no build step)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles


def install(app: FastAPI) -> None:
    from giftwell.web import dashboard, reward, routes

    app.include_router(routes.router)
    app.include_router(dashboard.router)
    app.include_router(reward.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
