"""Fixtures for the API surfaces: the app's own runtime, callers bound to a tenant, and apps built
with settings of a test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from giftwell.app import create_app
from giftwell.services.runtime import Runtime
from giftwell.settings import load_settings
from tests import factories
from tests.conftest import TEST_SECRET
from tests.functional.support import Api

MakeApp = Callable[..., FastAPI]


@pytest.fixture
async def rt(app_client: httpx.AsyncClient) -> Runtime:
    """Functional tests share the app's runtime: one engine and one clock for test and app."""
    runtime: Runtime = app_client.app.state.runtime  # type: ignore[attr-defined]
    return runtime


@pytest.fixture
def make_api(rt: Runtime, app_client: httpx.AsyncClient) -> Callable[..., Awaitable[Api]]:
    """A new tenant (account and token, all scopes unless told) and a caller acting as it."""

    async def make(scopes: list[str] | None = None) -> Api:
        return Api(app_client, await factories.tenant(rt, scopes=scopes))

    return make


@pytest.fixture
async def api(make_api: Callable[..., Awaitable[Api]]) -> Api:
    return await make_api()


@pytest.fixture
async def other(make_api: Callable[..., Awaitable[Api]]) -> Api:
    """A second, unrelated tenant."""
    return await make_api()


@pytest.fixture
async def make_app(db_url: str, tmp_path: Path, clock: Any) -> AsyncIterator[MakeApp]:
    """`make_app(**settings)`: an app on the test's database and clock with those settings
    (several apps on one database stand for several API processes)."""
    apps: list[FastAPI] = []

    def make(**overrides: Any) -> FastAPI:
        overrides.setdefault("webhooks_allow_private", True)
        settings = load_settings(database_url=db_url, data_dir=tmp_path / "var", secret_key=TEST_SECRET, **overrides)
        app = create_app(settings, clock=clock)
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.state.runtime.close()
