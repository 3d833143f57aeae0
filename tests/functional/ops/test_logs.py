"""Structured logs: one JSON object a line, with `request_id`, `account_id`, route and duration
on every request, and `job_id` and `attempt` on every record a job logs; text on a terminal and
when asked. Both databases."""

from __future__ import annotations

import io
import json
import logging

import pytest

from giftwell.jobs.worker import Worker
from giftwell.services.queue import jobs
from giftwell.settings import load_settings
from giftwell.telemetry import logs
from tests import factories
from tests.conftest import TEST_SECRET


@pytest.fixture
def log_stream():
    """Giftwell's logging configured to a buffer (JSON), removed afterwards."""
    buf = io.StringIO()
    root = logging.getLogger()
    before = list(root.handlers), root.level
    logs.configure(fmt="json", level="info", stream=buf)
    yield buf
    for h in list(root.handlers):
        if h not in before[0]:
            root.removeHandler(h)
    root.setLevel(before[1])


def lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


async def test_every_request_logs_one_json_line_with_its_context(app_client, rt, log_stream):
    t = await factories.tenant(rt)
    made = await app_client.post(
        "/v1/cards", json={"currency": "EUR", "amount": 500}, headers={**t.headers, "X-Request-Id": "req-abc.1"}
    )
    assert made.status_code == 201
    card = made.json()["id"]
    assert (await app_client.get(f"/v1/cards/{card}", headers=t.headers)).status_code == 200
    assert (await app_client.get("/v1/cards/nope", headers={"Authorization": "Bearer gw_wrong"})).status_code == 401
    requests = [doc for doc in lines(log_stream) if doc["logger"] == "giftwell.http"]
    assert [(d["method"], d["route"], d["status"]) for d in requests] == [
        ("POST", "/v1/cards", 201),
        ("GET", "/v1/cards/{card_id}", 200),
        ("GET", "/v1/cards/{card_id}", 401),
    ]
    first, second, refused = requests
    assert first["request_id"] == "req-abc.1"
    assert second["request_id"].startswith("req_")
    assert refused["request_id"] != second["request_id"]
    assert first["account_id"] == second["account_id"] == t.account_id
    assert "account_id" not in refused  # the token was never accepted
    for d in requests:
        assert d["level"] == "info"
        assert isinstance(d["duration_ms"], float)
        assert d["ts"].endswith("Z")
        assert card not in d["event"]
        assert card not in json.dumps(d.get("route"))
    # The whole output is JSON, one object a line.
    assert all(line.startswith("{") for line in log_stream.getvalue().splitlines())


async def test_records_logged_during_a_job_carry_its_id_and_attempt(rt, log_stream):
    async def noisy(rt_, job):
        logging.getLogger("giftwell.test").warning("working on it")
        if job.attempt == 1:
            raise RuntimeError("first try fails")

    async with rt.uow() as uow:
        job_id = await jobs.enqueue(uow, "test.noisy", {})
        await uow.commit()
    worker = Worker(rt, {"test.noisy": noisy})
    await worker.run_once()
    rt.clock.advance(hours=2)
    await worker.run_once()
    docs = lines(log_stream)
    mine = [d for d in docs if d.get("job_id") == job_id]
    said = [(d["logger"], d["attempt"], d["event"]) for d in mine if d["logger"] == "giftwell.test"]
    assert said == [("giftwell.test", 1, "working on it"), ("giftwell.test", 2, "working on it")]
    assert {d["job_kind"] for d in mine} == {"test.noisy"}
    done = [d for d in mine if d["logger"] == "giftwell.worker" and "done" in d["event"]]
    assert len(done) == 1
    assert done[0]["attempt"] == 2
    assert isinstance(done[0]["duration_ms"], float)
    retried = [d for d in mine if d["logger"] == "giftwell.worker" and d["level"] == "warning"]
    assert retried
    assert retried[0]["attempt"] == 1
    # Records outside the job carry no job context.
    assert not [d for d in docs if d.get("job_id") and d.get("job_id") != job_id]


def test_format_is_json_off_a_terminal_text_on_one_and_as_set():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert logs.resolve_format(None, io.StringIO()) == "json"
    assert logs.resolve_format(None, Tty()) == "text"
    assert logs.resolve_format("text", io.StringIO()) == "text"
    assert logs.resolve_format("json", Tty()) == "json"
    buf = Tty()
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    try:
        assert logs.configure(stream=buf) == "text"
        logging.getLogger("giftwell.test").warning("plain %s", "words")
    finally:
        for h in list(root.handlers):
            if h not in saved[0]:
                root.removeHandler(h)
        root.setLevel(saved[1])
    out = buf.getvalue()
    assert "plain words" in out
    assert not out.lstrip().startswith("{")


def test_log_format_setting_is_checked(tmp_path):
    from giftwell.settings import SettingsError

    assert load_settings(data_dir=tmp_path, secret_key=TEST_SECRET, log_format="JSON").log_format == "json"
    with pytest.raises(SettingsError, match="GIFTWELL_LOG_FORMAT"):
        load_settings(data_dir=tmp_path, secret_key=TEST_SECRET, log_format="xml")
