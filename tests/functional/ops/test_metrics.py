"""`GET /metrics`: Prometheus text for an operator token with `metrics:read`, and nobody else;
requests by route template and status, redemptions and amounts by currency, the job queue read
from the database at scrape time, job failures and dead jobs, webhook and delivery failures, the
database pool; the same text without authentication on `GIFTWELL_METRICS_PORT`; and the sums of
several processes in multiprocess mode. Both databases."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from giftwell.app import create_app
from giftwell.domain.errors import Forbidden
from giftwell.jobs.worker import Worker
from giftwell.services.access import tokens
from giftwell.services.queue import jobs
from giftwell.settings import load_settings
from tests import factories
from tests.conftest import TEST_SECRET
from tests.functional.support import expect_error
from tests.pg import free_port


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample (0 if absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


async def scrape(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    r = await http.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


async def test_metrics_need_an_operator_token_with_metrics_read(app_client, rt):
    tenant = await factories.tenant(rt)
    op = await factories.operator(rt)
    expect_error(await app_client.get("/metrics"), 401, "unauthorized", None)
    expect_error(await app_client.get("/metrics", headers=tenant.headers), 403, "insufficient_scope", "scope")
    # A tenant cannot even be given the scope: it is the operator's, like admin.
    async with rt.uow() as uow:
        with pytest.raises(Forbidden, match="metrics:read"):
            await tokens.create_token(uow, account_id=tenant.account_id, scopes=["metrics:read"])
        only_admin = await tokens.create_token(uow, account_id=op.account_id, scopes=["admin"])
        await uow.commit()
    no_scope = {"Authorization": f"Bearer {only_admin.token}"}
    expect_error(await app_client.get("/metrics", headers=no_scope), 403, "insufficient_scope", "scope")
    text = await scrape(app_client, op.headers)
    assert "giftwell_database_up 1.0" in text


async def test_requests_redemptions_and_the_queue_are_counted(app_client, rt, clock):
    op = await factories.operator(rt)
    t = await factories.tenant(rt)
    before = await scrape(app_client, op.headers)

    made = await app_client.post("/v1/cards", json={"currency": "JPY", "amount": 5000}, headers=t.headers)
    assert made.status_code == 201, made.text
    card = made.json()["id"]
    for amount in (100, 250):
        r = await app_client.post(f"/v1/cards/{card}/redeem", json={"amount": amount}, headers=t.headers)
        assert r.status_code == 200, r.text
    refused = await app_client.post(f"/v1/cards/{card}/redeem", json={"amount": 10**9}, headers=t.headers)
    assert refused.status_code == 422
    assert (await app_client.get(f"/v1/cards/{card}", headers=t.headers)).status_code == 200
    assert (await app_client.get("/no/such/path", headers=t.headers)).status_code == 404

    # Jobs: two due now of one kind, one dead of another.
    async with rt.uow() as uow:
        await jobs.enqueue(uow, "test.metrics", {})
        await jobs.enqueue(uow, "test.metrics", {})
        await jobs.enqueue(uow, "test.metrics.doomed", {}, max_attempts=1)
        await uow.commit()
    clock.advance(seconds=30)
    # Run the doomed job alone (the others are kept out of the claim, then put back as they were).
    await _run_only(rt, Worker(rt, {"test.metrics.doomed": _fail}), "test.metrics.doomed")
    after = await scrape(app_client, op.headers)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    count = "giftwell_http_request_duration_seconds_count"
    assert delta(count, method="POST", route="/v1/cards/{card_id}/redeem", status="200") == 2
    assert delta(count, method="POST", route="/v1/cards/{card_id}/redeem", status="422") == 1
    assert delta(count, method="GET", route="/v1/cards/{card_id}", status="200") == 1
    assert delta(count, method="GET", route="unmatched", status="404") == 1
    assert not [line for line in after.splitlines() if card in line or "/no/such" in line]
    assert delta("giftwell_redemptions_total", currency="JPY") == 2
    assert delta("giftwell_redeemed_amount_minor_total", currency="JPY") == 350
    assert sample(after, "giftwell_jobs_queued", kind="test.metrics") == 2
    assert sample(after, "giftwell_jobs_oldest_due_age_seconds", kind="test.metrics") == pytest.approx(30, abs=1)
    assert sample(after, "giftwell_jobs_dead", kind="test.metrics.doomed") == 1
    assert delta("giftwell_jobs_dead_total", kind="test.metrics.doomed") == 1
    assert delta("giftwell_job_failures_total", kind="test.metrics.doomed") == 1
    assert sample(after, "giftwell_db_pool_size") >= 1
    assert "giftwell_db_pool_connections_in_use" in after


async def _fail(rt, job):
    raise RuntimeError("boom")


async def _run_only(rt, worker: Worker, kind: str) -> None:
    """Run the due jobs of `kind` once, leaving every other job queued as it was."""
    import sqlalchemy as sa

    from giftwell.store.models import Job

    async with rt.uow() as uow:
        others = list((await uow.conn.scalars(sa.select(Job.id).where(Job.kind != kind, Job.state == "queued"))).all())
        far = uow.now.replace(year=uow.now.year + 1)
        saved = {
            r.id: r.run_at
            for r in (await uow.conn.execute(sa.select(Job.id, Job.run_at).where(Job.id.in_(others)))).all()
        }
        await uow.conn.execute(sa.update(Job).where(Job.id.in_(others)).values(run_at=far))
        await uow.commit()
    await worker.run_once()
    async with rt.uow() as uow:
        for job_id, run_at in saved.items():
            await uow.conn.execute(sa.update(Job).where(Job.id == job_id).values(run_at=run_at))
        await uow.commit()


async def test_metrics_port_serves_without_authentication(settings, tmp_path):
    port = free_port()
    s = load_settings(
        database_url=settings.resolved_database_url,
        data_dir=tmp_path / "var",
        secret_key=TEST_SECRET,
        metrics_port=port,
        metrics_host="127.0.0.1",
    )
    app = create_app(s)
    async with app.router.lifespan_context(app), httpx.AsyncClient() as http:
        r = await http.get(f"http://127.0.0.1:{port}/metrics")
        assert r.status_code == 200
        assert "giftwell_database_up 1.0" in r.text
        assert "giftwell_http_request_duration_seconds" in r.text
        assert (await http.get(f"http://127.0.0.1:{port}/v1/cards")).status_code == 404
    await asyncio.sleep(0)
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(f"http://127.0.0.1:{port}/metrics")


_CHILD = textwrap.dedent(
    """
    import sys
    from giftwell.telemetry import metrics
    metrics.redeemed("EUR", int(sys.argv[1]))
    metrics.HTTP_REQUESTS.labels("GET", "/v1/ping", "200").observe(0.01)
    """
)
_RENDER = "import sys; from giftwell.telemetry import metrics; sys.stdout.write(metrics.render().decode())"


def test_multiprocess_mode_sums_every_process(tmp_path):
    """Processes started with PROMETHEUS_MULTIPROC_DIR (as `multiprocess_dir` sets it for the
    processes `giftwell serve` starts) write their values to shared files; any one renders the
    sum. No database: pure prometheus-client plumbing."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for amount in ("100", "250", "7"):
        subprocess.run([sys.executable, "-c", _CHILD, amount], env=env, check=True, timeout=60)
    out = subprocess.run(
        [sys.executable, "-c", _RENDER], env=env, check=True, timeout=60, capture_output=True, text=True
    ).stdout
    assert sample(out, "giftwell_redemptions_total", currency="EUR") == 3
    assert sample(out, "giftwell_redeemed_amount_minor_total", currency="EUR") == 357
    count = "giftwell_http_request_duration_seconds_count"
    assert sample(out, count, method="GET", route="/v1/ping", status="200") == 3


def test_multiprocess_dir_switches_a_process_that_already_imported_the_client(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys, pathlib
        from giftwell.telemetry import metrics
        assert not metrics.is_multiprocess()
        metrics.multiprocess_dir(pathlib.Path({str(tmp_path / "mp")!r}))
        metrics.redeemed("KWD", 1234)
        assert list(pathlib.Path({str(tmp_path / "mp")!r}).glob("counter_*.db"))
        sys.stdout.write(metrics.render().decode())
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, timeout=60, capture_output=True, text=True
    ).stdout
    assert sample(out, "giftwell_redeemed_amount_minor_total", currency="KWD") == 1234
