"""Report arithmetic: the proportional breakage schedule against a table computed by hand, and the
inputs (rate, days, instants) refused with the field named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.reports import (
    MonthFlows,
    breakage_schedule,
    check_as_of,
    check_days,
    check_rate,
    day_starts,
    month_of,
)


def test_breakage_schedule_equals_the_hand_computed_table():
    # rate 10 %. Jan: I=10000, E=1000, X=9000, R=3000 -> floor(1000*3000/9000) = 333.
    # Feb: R=7500 -> floor(1000*7500/9000) = 833 (+500). Mar: I=15000, E=1500, X=13500, R=9000
    # -> floor(1500*9000/13500) = 1000 (+167). Apr: R=15000 -> 1666, capped at E = 1500 (+500).
    months = [
        MonthFlows("2026-03", 5000, 1500, 0),
        MonthFlows("2026-01", 10000, 3000, 0),
        MonthFlows("2026-02", 0, 4500, 0),
        MonthFlows("2026-04", 0, 6000, 200),
    ]
    s = breakage_schedule(months, Decimal("0.1"))
    table = [(r.month, r.issued, r.redeemed, r.expired, r.recognized, r.cumulative) for r in s.rows]
    assert table == [
        ("2026-01", 10000, 3000, 0, 333, 333),
        ("2026-02", 0, 4500, 0, 500, 833),
        ("2026-03", 5000, 1500, 0, 167, 1000),
        ("2026-04", 0, 6000, 200, 500, 1500),
    ]
    assert (s.issued, s.redeemed, s.expired, s.expected_breakage, s.recognized) == (15000, 15000, 200, 1500, 1500)
    assert sum(r.recognized for r in s.rows) == s.recognized


def test_breakage_never_goes_down_and_zero_rate_recognises_nothing():
    # A refund month (net redemptions negative) does not take back recognised breakage.
    s = breakage_schedule([MonthFlows("2026-01", 1000, 500, 0), MonthFlows("2026-02", 0, -400, 0)], Decimal("0.2"))
    assert [r.cumulative for r in s.rows] == [125, 125]
    assert breakage_schedule([MonthFlows("2026-01", 1000, 900, 0)], Decimal("0")).recognized == 0
    assert breakage_schedule([], Decimal("0.5")).rows == []


@pytest.mark.parametrize("bad", [1.0, 0.1, "1", "1.5", "-0.1", "abc", "NaN", "Infinity", "0.1234567", True, None])
def test_rate_must_be_a_decimal_fraction_below_one(bad):
    with pytest.raises(ValidationFailed) as err:
        check_rate(bad)
    assert err.value.param == "rate"


def test_rate_accepts_decimal_strings():
    assert check_rate("0.1") == Decimal("0.1")
    assert check_rate(" 0.035 ") == Decimal("0.035")
    assert check_rate(0) == Decimal(0)


@pytest.mark.parametrize("bad", [0, -1, 3661, True, 1.5, "30"])
def test_days_are_whole_and_bounded(bad):
    with pytest.raises(ValidationFailed) as err:
        check_days(bad, param="days")
    assert err.value.param == "days"


def test_as_of_is_now_by_default_and_never_naive():
    now = datetime(2026, 5, 1, tzinfo=UTC)
    assert check_as_of(None, now) == now
    with pytest.raises(ValidationFailed) as err:
        check_as_of(datetime(2026, 1, 1), now)  # noqa: DTZ001 - the naive time under test
    assert err.value.param == "as_of"
    plus2 = datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert check_as_of(plus2, now) == datetime(2026, 1, 1, tzinfo=UTC)


def test_buckets_are_utc():
    assert month_of(datetime(2026, 2, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))) == "2026-01"
    days = day_starts(datetime(2026, 3, 2, 15, tzinfo=UTC), 3)
    assert days == [
        datetime(2026, 2, 28, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 3, 2, tzinfo=UTC),
    ]
