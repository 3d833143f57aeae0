"""`giftwell codes odds`: the guessing odds for the default format under the configured limits."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from giftwell.app import build_runtime
from giftwell.cli.main import app
from tests import factories
from tests.conftest import TEST_SECRET


def run(tmp_path, *args: str, **env: str):
    env = {"GIFTWELL_DATA_DIR": str(tmp_path / "cli"), "GIFTWELL_SECRET_KEY": TEST_SECRET, **env}
    return CliRunner().invoke(app, ["codes", "odds", *args], env=env)


def test_odds_for_an_assumed_number_of_cards(tmp_path):
    r = run(tmp_path, "--live-cards", "100000000", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["bits"] == 80
    assert d["live_cards"] == 10**8
    assert (d["max_failures"], d["window_seconds"], d["attackers"]) == (10, 3600, 10_000)
    assert d["guesses_per_year"] == 876_600_000
    assert d["probability_per_year"] == 876_600_000 * 10**8 / 2**80
    assert d["acceptable"] is True

    human = run(tmp_path, "--live-cards", "1000000")
    assert "P(hit in a year) = G*N / 2^bits = 7.25e-10 (under one in a million)" in human.stdout


def test_loose_limits_fail_the_check(tmp_path):
    r = run(tmp_path, "--live-cards", "100000000", "--json", GIFTWELL_GUESS_MAX_FAILURES="1000000")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["acceptable"] is False


def test_odds_count_the_live_cards_in_the_database(settings, tmp_path):
    async def make() -> None:
        rt = build_runtime(settings)
        try:
            t = await factories.tenant(rt)
            for _ in range(3):
                await factories.card(rt, t.account_id)
            await factories.card(rt, t.account_id, amount=None)  # inactive cards can be guessed too
        finally:
            await rt.close()

    asyncio.run(make())
    r = run(tmp_path, "--json", GIFTWELL_DATABASE_URL=settings.resolved_database_url)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["live_cards"] == 4
