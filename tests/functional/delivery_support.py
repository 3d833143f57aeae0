"""Helpers for the delivery tests: an app with delivery settings, a worker, parsed messages."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from giftwell.jobs.worker import Worker
from giftwell.services.runtime import Runtime
from giftwell.store.models import Event
from tests import factories

LINK = re.compile(r"http://testserver/r/[A-Za-z0-9_\-]+")


def runtime(app: FastAPI) -> Runtime:
    rt: Runtime = app.state.runtime
    return rt


def http(app: FastAPI, ip: str = "203.0.113.7") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url="http://testserver")


async def work(app: FastAPI) -> int:
    """Run every due job once (no periodic tasks), as a worker would."""
    return await Worker(runtime(app), periodic=(), worker_id="test-worker").run_once()


def parts(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None, msg
    assert html is not None, msg
    return text.get_content(), html.get_content()


async def events(rt: Runtime, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    async with rt.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(Event.type, Event.data).where(Event.type.like(f"{prefix}%")).order_by(Event.created_at, Event.id)
        )
        return [(r.type, r.data) for r in rows]


async def send_card(api: Any, notification: dict[str, Any], *, amount: int = 5000, currency: str = "EUR") -> Any:
    return await api.ok(
        "POST", "/v1/cards", {"currency": currency, "amount": amount, "notification": notification}, status=201
    )


async def tenant_api(app: FastAPI, rt: Runtime) -> Any:
    from tests.functional.support import Api

    return Api(http(app), await factories.tenant(rt, name=f"Acme Shop {id(app) % 10_000}"))
