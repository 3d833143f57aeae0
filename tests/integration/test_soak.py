"""The short soak in `make test`: the bank-style workload of `tests/soak.py` (`make soak` runs
a million operations) on both databases, with the server killed with SIGKILL a few times under
load. Every acknowledged operation is in the ledger exactly once, every card agrees with the
client's model to the cent, and `ledger verify` passes."""

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
    assert result["ledger_verify"] is True
    assert result["model_checks_passed"] >= result["cards"]
