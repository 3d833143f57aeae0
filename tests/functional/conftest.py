"""Fixtures for the native API tests: the app's own runtime, and callers bound to a tenant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from giftwell.services.runtime import Runtime
from tests import factories
from tests.functional.support import Api


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
