"""Fixtures of the integration tests that run real worker processes."""

from __future__ import annotations

import pytest

from giftwell.app import build_runtime
from giftwell.jobs.handlers import testing


@pytest.fixture
async def real_rt(settings):
    """A runtime on the real clock, as the worker processes use: their leases and the test's
    polling must agree on the time."""
    rt = build_runtime(settings)
    await testing.install(rt)
    yield rt
    await rt.close()
