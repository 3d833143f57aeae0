"""Report arithmetic: the breakage estimate (ASC 606's proportional method), the rate and day
inputs, and month buckets. Pure: the services bring the sums from the ledger.

Breakage is the value of gift cards that will never be redeemed. Under ASC 606 (and IFRS 15) an
issuer that expects breakage recognises it *in proportion to the redemptions*: with an expected
breakage rate r on issued value I, the expected breakage is E = r x I, the expected redemptions
are X = I - E, and after redemptions R the recognised breakage is E x R / X (never more than E).
Value on dormant cards is left out of the estimate and shown apart: unclaimed-property laws may
make it owed to a state, so it is never revenue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from giftwell.domain.errors import ValidationFailed

MAX_DAYS = 3660  # ten years: any window a report takes
DEFAULT_DORMANT_DAYS = 1095  # three years, the shortest common US dormancy period for gift cards


def check_rate(value: object, *, param: str = "rate") -> Decimal:
    """A breakage rate as a decimal fraction, 0 <= rate < 1 ("0.1" is 10 %). A string or a
    Decimal, never a float (a float would be a rounded rate)."""
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise ValidationFailed("rate must be a decimal string such as 0.1", param=param)
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationFailed("rate must be a decimal such as 0.1", param=param) from None
    if not rate.is_finite() or rate < 0 or rate >= 1:
        raise ValidationFailed("rate must be at least 0 and less than 1", param=param)
    if rate.as_tuple().exponent < -6:  # type: ignore[operator]
        raise ValidationFailed("rate may have at most 6 decimals", param=param)
    return rate


def check_days(value: object, *, param: str, low: int = 1, high: int = MAX_DAYS) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(f"{param} must be a whole number of days from {low} to {high}", param=param)
    return value


def check_as_of(value: datetime | None, now: datetime, *, param: str = "as_of") -> datetime:
    """A report's instant: now when not given; a naive time is refused (no guessing its zone)."""
    if value is None:
        return now
    if value.tzinfo is None:
        raise ValidationFailed(f"{param} must include a timezone", param=param)
    return value.astimezone(UTC)


def month_of(at: datetime) -> str:
    """The UTC calendar month of an instant, as `YYYY-MM`."""
    return at.astimezone(UTC).strftime("%Y-%m")


def month_start(at: datetime) -> datetime:
    u = at.astimezone(UTC)
    return datetime(u.year, u.month, 1, tzinfo=UTC)


def day_starts(end: datetime, days: int) -> list[datetime]:
    """The starts of the `days` UTC days ending with the one holding `end`, oldest first."""
    last = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [last - timedelta(days=days - 1 - i) for i in range(days)]


@dataclass(frozen=True, slots=True)
class MonthFlows:
    """One month's card flows in one currency (minor units): value put on cards, redeemed (net
    of refunds) and expired."""

    month: str
    issued: int
    redeemed: int
    expired: int


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    month: str
    issued: int
    redeemed: int
    expired: int
    recognized: int  # breakage recognised in this month
    cumulative: int  # breakage recognised up to the end of this month


@dataclass(frozen=True, slots=True)
class Schedule:
    issued: int
    redeemed: int
    expired: int
    expected_breakage: int
    recognized: int
    rows: list[ScheduleRow]


def breakage_schedule(months: list[MonthFlows], rate: Decimal) -> Schedule:
    """The proportional method over months in order. Recognised breakage to date is
    floor(E x R / X) with cumulative issued I, expected breakage E = floor(r x I), expected
    redemptions X = I - E and cumulative redemptions R, capped at E. Each month's figure is the
    change of that cumulative figure, so rounding never drifts: the months always add up to the
    total. When issued value grows (a later month issues more), E grows with it and the
    cumulative figure is recomputed on the new base; it never goes down, since recognised
    revenue is not reversed by an estimate."""
    rows: list[ScheduleRow] = []
    issued = redeemed = expired = cumulative = 0
    expected = 0
    for m in sorted(months, key=lambda f: f.month):
        issued += m.issued
        redeemed += m.redeemed
        expired += m.expired
        expected = int(rate * issued)  # floor: both non-negative
        to_redeem = issued - expected
        due = 0 if to_redeem <= 0 else min(expected, expected * max(redeemed, 0) // to_redeem)
        due = max(due, cumulative)
        rows.append(ScheduleRow(m.month, m.issued, m.redeemed, m.expired, due - cumulative, due))
        cumulative = due
    return Schedule(issued, redeemed, expired, expected, cumulative, rows)
