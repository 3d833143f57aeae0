"""Fixtures of the Wix dialect's tests: two tenants calling it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from giftwell.services.runtime import Runtime
from tests import factories
from tests.functional.dialects.wix.support import Wix


@pytest.fixture
def make_wix(rt: Runtime, app_client: httpx.AsyncClient) -> Callable[..., Awaitable[Wix]]:
    async def make(scopes: list[str] | None = None) -> Wix:
        return Wix(app_client, await factories.tenant(rt, scopes=scopes))

    return make


@pytest.fixture
async def wix(make_wix: Callable[..., Awaitable[Wix]]) -> Wix:
    return await make_wix()


@pytest.fixture
async def other_wix(make_wix: Callable[..., Awaitable[Wix]]) -> Wix:
    return await make_wix()
