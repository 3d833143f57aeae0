"""`giftwell reports ...`: the same figures as the API, as JSON; the expiring report as CSV.
In-process (Typer's runner, in a thread), on both databases."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from giftwell.cli.main import app
from giftwell.services.runtime import Runtime
from tests import factories
from tests.conftest import TEST_SECRET


@pytest.fixture
def env(rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    return {
        "GIFTWELL_DATABASE_URL": rt.settings.resolved_database_url,
        "GIFTWELL_DATA_DIR": str(tmp_path / "var"),
        "GIFTWELL_SECRET_KEY": TEST_SECRET,
        "GIFTWELL_LOG_LEVEL": "warning",
    }


async def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    r = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env, catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


async def test_reports_from_the_command_line(rt: Runtime, env: dict[str, str]):
    t = await factories.tenant(rt, name="Acme Shop")
    soon = await factories.card(rt, t.account_id, amount=2500, expires_at=rt.clock() + timedelta(days=5))
    await factories.card(rt, t.account_id, currency="JPY", amount=3000)

    code, out, _ = await invoke(env, "reports", "liability", "--account", "Acme Shop", "--json")
    assert code == 0
    assert json.loads(out)["data"] == [
        {"currency": "EUR", "amount": 2500, "cards": 1, "links": 0, "link_count": 0},
        {"currency": "JPY", "amount": 3000, "cards": 1, "links": 0, "link_count": 0},
    ]
    code, out, _ = await invoke(env, "reports", "breakage", "--account", "Acme Shop", "--rate", "0.1", "--json")
    assert code == 0
    doc = json.loads(out)
    assert [(c["currency"], c["issued"], c["expected_breakage"]) for c in doc["data"]] == [
        ("EUR", 2500, 250),
        ("JPY", 3000, 300),
    ]
    code, out, _ = await invoke(env, "reports", "expiring", "--account", "Acme Shop", "--days", "7", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["id"], r["balance"]) for r in rows] == [(soon.card.id, "2500")]
    assert soon.code not in out

    code, out, _ = await invoke(
        env, "reports", "liability", "--account", "Acme Shop", "--as-of", "2026-01-01", "--json"
    )
    assert code == 2
    code, _, err = await invoke(env, "reports", "breakage", "--account", "Acme Shop", "--rate", "2", "--json")
    assert code == 1
    assert json.loads(err)["error"]["param"] == "rate"


async def test_expiry_policy_from_the_command_line(rt: Runtime, env: dict[str, str]):
    await factories.tenant(rt, name="Policy Shop")
    code, out, _ = await invoke(
        env,
        "accounts",
        "expiry-policy",
        "Policy Shop",
        "--min-days",
        "1826",
        "--rule",
        "US CARD Act: 5 years",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["expiry_policy"] == {"min_days": 1826, "rule": "US CARD Act: 5 years"}
    code, _, err = await invoke(
        env, "accounts", "expiry-policy", "Policy Shop", "--min-days", "0", "--rule", "x", "--json"
    )
    assert (code, json.loads(err)["error"]["param"]) == (1, "policy.min_days")
    code, out, _ = await invoke(env, "accounts", "expiry-policy", "Policy Shop", "--clear", "--json")
    assert (code, json.loads(out)["expiry_policy"]) == (0, None)
