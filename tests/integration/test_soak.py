"""The short soak in `make test`: the bank-style workload of `tests/soak.py` (`make soak` runs
a million operations) on both databases, with the server killed with SIGKILL a few times under
load (and, on PostgreSQL, a `giftwell worker` with each), orders placed and cancelled, a webhook
receiver refusing or hanging on some deliveries. Every acknowledged operation is in the ledger
exactly once, every card agrees with the client's model to the cent, every order is final and the
prepaid balance exact, every event is delivered, and `ledger verify` passes."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_SECRET
from tests.soak import run_soak

# A busy shared 2-core machine runs this at ~16 operations a second: give it room.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

OPS = 2_000
KILLS = 2


def test_short_soak(db_url, tmp_path):
    result = run_soak(db_url, tmp_path, ops=OPS, kills=KILLS, clients=8, seed=20_000, secret=TEST_SECRET)
    print(result)
    assert result["operations"] == OPS
    assert result["server_kills"] == KILLS
    # PostgreSQL's server runs no worker: two `giftwell worker` processes do, one killed with each server kill.
    assert result["worker_kills"] == (0 if result["database"] == "sqlite" else KILLS)
    # Orders placed and cancelled, all final, the prepaid balance to the cent, every subscribed
    # event answered 2xx by the flaky receiver at least once (checked in tests/soak_orders.py).
    assert result["orders"] > 0
    assert result["cancels"] > 0
    assert result["events_delivered"] > result["orders"]
    assert result["ledger_verify"] is True
    assert result["model_checks_passed"] >= result["cards"]
