"""`giftwell jobs list|show|retry`, human and --json, on both databases."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from typer.testing import CliRunner

from giftwell.app import build_runtime
from giftwell.cli.main import app
from giftwell.jobs.worker import Worker
from giftwell.services.queue import jobs
from tests.conftest import TEST_SECRET


@pytest.fixture
def cli_env(settings, monkeypatch):
    monkeypatch.setenv("GIFTWELL_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("GIFTWELL_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("GIFTWELL_DATA_DIR", str(settings.data_dir))
    return settings


def make_jobs(settings) -> tuple[str, str]:
    """One dead job and one done job."""

    async def go() -> tuple[str, str]:
        rt = build_runtime(settings)
        try:
            async with rt.uow() as uow:
                dead = await jobs.enqueue(uow, "test.fails", {"n": 1}, max_attempts=1, account_id="acct_1")
                done = await jobs.enqueue(uow, "test.works", {"n": 2})
                await uow.commit()

            async def fails(rt_, job):
                raise RuntimeError("smtp said 550")

            async def works(rt_, job):
                return None

            w = Worker(rt, {"test.fails": fails, "test.works": works}, periodic=(), rng=random.Random(0))
            await w.run_once()
            return dead, done
        finally:
            await rt.close()

    return asyncio.run(go())


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result


def test_jobs_list_show_and_retry(cli_env):
    dead, done = make_jobs(cli_env)

    r = run("jobs", "list", "--json")
    assert r.exit_code == 0, r.output
    listed = {j["id"]: j for j in json.loads(r.stdout)["jobs"]}
    assert set(listed) == {dead, done}
    assert listed[dead]["state"] == "dead"
    assert listed[dead]["last_error"] == "RuntimeError: smtp said 550"
    assert listed[dead]["account_id"] == "acct_1"
    assert listed[done]["state"] == "done"

    r = run("jobs", "list", "--state", "dead", "--json")
    assert [j["id"] for j in json.loads(r.stdout)["jobs"]] == [dead]
    r = run("jobs", "list", "--kind", "test.works", "--json")
    assert [j["id"] for j in json.loads(r.stdout)["jobs"]] == [done]
    r = run("jobs", "list", "--state", "dead")
    assert r.exit_code == 0
    assert dead in r.stdout
    assert "smtp said 550" in r.stdout
    r = run("jobs", "list", "--state", "nope", "--json")
    assert r.exit_code == 1
    assert json.loads(r.stderr)["error"]["code"] == "validation_error"

    r = run("jobs", "show", dead, "--json")
    shown = json.loads(r.stdout)
    assert [(a["attempt"], a["outcome"]) for a in shown["attempt_log"]] == [(1, "dead")]

    r = run("jobs", "retry", dead, "--json")
    assert r.exit_code == 0, r.output
    revived = json.loads(r.stdout)
    assert (revived["state"], revived["attempts"], revived["max_attempts"]) == ("queued", 1, 11)
    r = run("jobs", "retry", dead, "--json")
    assert r.exit_code == 1
    assert json.loads(r.stderr)["error"]["code"] == "invalid_state"
    r = run("jobs", "retry", "job_nope")
    assert r.exit_code == 1
    assert "no job job_nope" in r.stderr
