"""The web pages: sign-in, the OAuth consent page, API clients, webhook endpoints, and the recipient's reward and
balance pages (Jinja2 templates, one small stylesheet, no build step)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

_REWARD_PATH = re.compile(r"/r/[^/?#\s\"]+")


class RedactRewardTokens(logging.Filter):
    """A reward link's token is a bearer secret in the URL path: access logs (uvicorn's) show
    `/r/[redacted]` instead. A proxy in front keeps its own logs: configure it likewise."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "/r/" in a for a in record.args):
            record.args = tuple(_REWARD_PATH.sub("/r/[redacted]", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and "/r/" in record.msg:
            record.msg = _REWARD_PATH.sub("/r/[redacted]", record.msg)
        return True


def install(app: FastAPI) -> None:
    from giftwell.web import dashboard, reward, routes, webhooks

    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactRewardTokens) for f in access.filters):
        access.addFilter(RedactRewardTokens())

    app.include_router(routes.router)
    app.include_router(dashboard.router)
    app.include_router(webhooks.router)
    app.include_router(reward.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
