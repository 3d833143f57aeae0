"""Fixtures for the API surfaces: apps built with settings of a test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from giftwell.api.app import create_app
from giftwell.settings import load_settings
from tests.conftest import TEST_SECRET

MakeApp = Callable[..., FastAPI]


@pytest.fixture
async def make_app(db_url: str, tmp_path: Path, clock: Any) -> AsyncIterator[MakeApp]:
    """`make_app(**settings)`: an app on the test's database and clock with those settings
    (several apps on one database stand for several API processes)."""
    apps: list[FastAPI] = []

    def make(**overrides: Any) -> FastAPI:
        settings = load_settings(database_url=db_url, data_dir=tmp_path / "var", secret_key=TEST_SECRET, **overrides)
        app = create_app(settings, clock=clock)
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.state.runtime.close()
