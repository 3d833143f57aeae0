"""`/healthz` (alive, whatever the database does) and `/readyz` (database reachable, schema at
head, worker beating when one is expected), on both databases, and with no database at all."""

from __future__ import annotations

import asyncio
import time

import httpx
import sqlalchemy as sa

from giftwell.app import create_app
from giftwell.services.queue import workers
from giftwell.settings import load_settings
from tests.conftest import TEST_SECRET
from tests.pg import free_port


async def test_ready_when_the_database_answers_at_head(app_client):
    r = await app_client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "worker": "not expected"},
    }


async def test_not_ready_when_the_schema_is_behind(app_client, rt):
    async with rt.uow() as uow:
        head = await uow.conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
        await uow.conn.execute(sa.text("UPDATE alembic_version SET version_num = '0009'"))
        await uow.commit()
    r = await app_client.get("/readyz")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert r.json()["checks"]["migrations"] == f"at 0009, not {head}: run giftwell db upgrade"
    assert (await app_client.get("/healthz")).status_code == 200


async def test_a_required_worker_must_have_beaten_within_a_lease(settings, clock, rt):
    s = settings.model_copy(update={"ready_requires_worker": True})
    app = create_app(s, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        r = await http.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["worker"] == "no giftwell worker has beaten within one job lease"
        await workers.beat(rt, "w-1", role=workers.WORKER, concurrency=4)
        assert (await http.get("/readyz")).json()["checks"]["worker"] == "ok"
        clock.advance(seconds=s.job_lease_seconds + 1)
        assert (await http.get("/readyz")).status_code == 503
        await workers.stopped(rt, "w-1")
        assert (await http.get("/readyz")).status_code == 503
    await app.state.runtime.close()


async def test_the_in_process_worker_must_be_beating(settings):
    app = create_app(settings, background=True)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        worker = app.state.worker
        for _ in range(100):
            if worker.last_beat is not None:
                break
            await asyncio.sleep(0.05)
        r = await http.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["checks"]["worker"] == "ok"
        worker.last_beat = time.monotonic() - settings.job_lease_seconds - 1  # as if it had hung
        r = await http.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["worker"] == "the in-process worker has not beaten within one job lease"
        async with app.state.runtime.reader() as uow:
            seen = await workers.list_workers(uow)
        assert [(w.id, w.role, w.status) for w in seen] == [(worker.id, "server", "alive")]


async def test_no_database_alive_but_not_ready(tmp_path):
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    app = create_app(load_settings(database_url=dead, data_dir=tmp_path, secret_key=TEST_SECRET))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        r = await http.get("/readyz")
        assert r.status_code == 503
        checks = r.json()["checks"]
        assert checks["database"].startswith("unreachable: ")
        assert checks["migrations"] == "unknown"
    await app.state.runtime.close()
