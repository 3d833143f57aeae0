"""Shared fixtures. Every database test runs twice: on SQLite and on a real PostgreSQL that the
suite starts itself. Each test gets a fresh database (a copy of a migrated template)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from giftwell.app import build_runtime
from giftwell.services.runtime import Runtime
from giftwell.settings import Settings, load_settings
from giftwell.store import migrate
from giftwell.store.engine import create_engine
from tests import pg

TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
TEMPLATE_DB = "giftwell_template"


class FakeClock:
    """An injectable clock: starts at real now, moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.PgServer]:
    external = os.environ.get("GIFTWELL_TEST_PG_URL")
    if external:
        from sqlalchemy.engine import make_url

        u = make_url(external)
        yield pg.PgServer(u.host or "127.0.0.1", u.port or 5432, u.username or "postgres")
        return
    server = pg.start()
    try:
        asyncio.run(_make_template(server))
        yield server
    finally:
        server.stop()


async def _make_template(server: pg.PgServer) -> None:
    conn = await asyncpg.connect(server.url("postgres"))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        await conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    finally:
        await conn.close()
    engine = create_engine(server.url(TEMPLATE_DB))
    await migrate.upgrade(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"

    async def build() -> None:
        engine = create_engine(f"sqlite:///{path}")
        await migrate.upgrade(engine)
        await engine.dispose()

    asyncio.run(build())
    return path


_db_counter = 0


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for this test, on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "giftwell.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server: pg.PgServer = request.getfixturevalue("pg_server")
    global _db_counter
    _db_counter += 1
    name = f"t_{os.getpid()}_{_db_counter}"

    async def create() -> None:
        conn = await asyncpg.connect(server.url("postgres"))
        try:
            await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(server.url("postgres"))
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await conn.close()

    asyncio.run(create())
    yield server.url(name)
    asyncio.run(drop())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    # Webhooks go to receivers on loopback in the tests: private destinations allowed on both
    # databases (the PostgreSQL default refuses them).
    return load_settings(
        database_url=db_url, data_dir=tmp_path / "var", secret_key=TEST_SECRET, webhooks_allow_private=True
    )


@pytest.fixture
async def rt(settings: Settings, clock: FakeClock) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings, clock=clock)
    yield runtime
    await runtime.close()


@pytest.fixture
async def app_client(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to the app in-process (ASGI), sharing the test's clock."""
    from giftwell.app import create_app

    app = create_app(settings, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
    await app.state.runtime.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the browser tests left their screenshots."""
    artifacts = Path(__file__).resolve().parents[1] / "test-artifacts"
    if artifacts.is_dir():
        shots = sorted(artifacts.rglob("*.png"))
        if shots:
            terminalreporter.write_line(f"test artifacts: {len(shots)} screenshots under {artifacts}")
