"""`to_minor`: exact conversion of decimal major units, never rounding, never slow."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.money import MAX_AMOUNT, Currency, to_major, to_minor

EUR = Currency("EUR", 2)
JPY = Currency("JPY", 0)
KWD = Currency("KWD", 3)


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        (Decimal("50"), EUR, 5000),
        (Decimal("10.25"), EUR, 1025),
        (Decimal("10.50"), EUR, 1050),
        (Decimal("10.500000"), EUR, 1050),
        ("0.01", EUR, 1),
        (Decimal("1E+2"), EUR, 10000),
        (Decimal("-3.5"), EUR, -350),
        (Decimal("0"), EUR, 0),
        (Decimal("0.000"), EUR, 0),
        (Decimal("0E-9"), EUR, 0),
        (7, JPY, 7),
        (Decimal("700.0"), JPY, 700),
        (Decimal("1.234"), KWD, 1234),
        (Decimal("90071992547409.91"), EUR, MAX_AMOUNT),
    ],
)
def test_exact_conversion(value, currency, minor):
    assert to_minor(value, currency) == minor


@pytest.mark.parametrize(
    ("value", "currency"),
    [
        (Decimal("10.255"), EUR),
        (Decimal("0.5"), JPY),
        (Decimal("1.2345"), KWD),
        # More significant digits than a default Decimal context keeps: used to round to 100.
        (Decimal("1.000000000000000000000000000001"), EUR),
        (Decimal("1E-999999"), EUR),
    ],
)
def test_too_many_decimals_is_refused_not_rounded(value, currency):
    with pytest.raises(ValidationFailed) as e:
        to_minor(value, currency)
    assert e.value.param == "amount"
    assert e.value.fields == {"rule": "decimal_places", "decimals": currency.exponent}


@pytest.mark.parametrize(
    "value", [Decimal("1E+999999"), Decimal("1E+14"), Decimal("10000000000000000.00"), Decimal("90071992547409.92")]
)
def test_too_large_is_refused_quickly(value):
    started = time.monotonic()
    with pytest.raises(ValidationFailed) as e:
        to_minor(value, EUR, param="value")
    assert time.monotonic() - started < 1
    assert e.value.param == "value"
    assert e.value.fields == {"rule": "max", "max": MAX_AMOUNT, "decimals": 2}


@pytest.mark.parametrize("value", [1.5, True, "abc", Decimal("NaN"), Decimal("Infinity"), "-Infinity"])
def test_not_a_finite_decimal(value):
    with pytest.raises(ValidationFailed):
        to_minor(value, EUR)


def test_round_trip():
    assert to_major(to_minor(Decimal("39.75"), EUR), EUR) == Decimal("39.75")
    assert to_major(1050, EUR) == Decimal("10.50")
    assert to_major(5, JPY) == Decimal(5)
