"""Money: currency exponents, exact decimal <-> minor-unit conversion, no floats, no rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.money import MAX_AMOUNT, Currency, Money, to_major, to_minor
from giftwell.services.currencies import currency

JPY = currency("JPY")
EUR = currency("EUR")
KWD = currency("KWD")


@pytest.mark.parametrize(("code", "exponent", "factor"), [("JPY", 0, 1), ("EUR", 2, 100), ("KWD", 3, 1000)])
def test_currency_exponents_come_from_iso_4217(code, exponent, factor):
    c = currency(code)
    assert c == Currency(code, exponent)
    assert c.factor == factor


@pytest.mark.parametrize("bad", ["eur", "EURO", "EU", "E1R", "", None, 978, "XAU", "XXX", "ZZZ"])
def test_currency_refuses_what_is_not_money(bad):
    with pytest.raises(ValidationFailed) as exc:
        currency(bad, param="price.currency")
    assert exc.value.param == "price.currency"


@pytest.mark.parametrize(
    ("value", "cur", "minor"),
    [
        ("50", EUR, 5000),
        ("50.00", EUR, 5000),
        ("50.1", EUR, 5010),
        ("0.01", EUR, 1),
        ("-12.34", EUR, -1234),
        ("0", EUR, 0),
        ("50", JPY, 50),
        ("50.0", JPY, 50),
        ("50.000", JPY, 50),
        ("1.234", KWD, 1234),
        ("1.2340", KWD, 1234),
        ("0.001", KWD, 1),
        ("1E+2", EUR, 10000),
        ("12.5E-1", EUR, 125),
        (Decimal("19.99"), EUR, 1999),
        (7, JPY, 7),
        (7, KWD, 7000),
    ],
)
def test_to_minor_is_exact(value, cur, minor):
    got = to_minor(value, cur)
    assert got == minor
    assert type(got) is int


@pytest.mark.parametrize(
    ("value", "cur"),
    [("50.001", EUR), ("0.001", EUR), ("50.5", JPY), ("0.1", JPY), ("1.2345", KWD), ("1E-3", EUR)],
)
def test_to_minor_refuses_more_decimals_than_the_currency_has(value, cur):
    with pytest.raises(ValidationFailed) as exc:
        to_minor(value, cur, param="amount_major")
    assert exc.value.param == "amount_major"
    assert "amount_major" in exc.value.message
    assert cur.code in exc.value.message


@pytest.mark.parametrize("value", [50.0, 0.1, 1.5, True, False])
def test_to_minor_refuses_floats_and_bools(value):
    with pytest.raises(ValidationFailed) as exc:
        to_minor(value, EUR, param="value")
    assert exc.value.param == "value"


@pytest.mark.parametrize("value", ["abc", "", "1,50", "NaN", "sNaN", "Infinity", "-Infinity", Decimal("NaN")])
def test_to_minor_refuses_non_numbers(value):
    with pytest.raises(ValidationFailed) as exc:
        to_minor(value, EUR)
    assert exc.value.param == "amount"


def test_to_minor_keeps_every_digit_of_a_large_amount():
    # Up to MAX_AMOUNT (2^53-1, the largest integer a float holds exactly): every digit kept.
    assert to_minor("90071992547409.91", EUR) == MAX_AMOUNT
    assert to_minor("-90071992547409.91", EUR) == -MAX_AMOUNT
    assert to_minor("9007199254740991", JPY) == MAX_AMOUNT
    assert to_minor("9007199254740.991", KWD) == MAX_AMOUNT
    assert to_minor("12345678901234.57", EUR) == 1234567890123457


@pytest.mark.parametrize(
    ("value", "cur"),
    [
        # 30 significant digits: arithmetic in Decimal's default 28-digit context rounded this to
        # ...679.00 and accepted it; and hid the extra decimals of the next one.
        ("1234567890123456789012345678.91", EUR),
        ("12345678901234567890123456789.001", EUR),
        ("10000000000000000.00", EUR),
        ("1000000000000000000", JPY),
        ("1000000000000000", KWD),
        ("1E+1000000", EUR),
        ("1E+999999999", JPY),
        ("-1E+1000000", KWD),
    ],
)
def test_to_minor_refuses_amounts_beyond_what_the_ledger_can_hold(value, cur):
    with pytest.raises(ValidationFailed) as exc:
        to_minor(value, cur, param="amount")
    assert exc.value.param == "amount"


def test_to_minor_refuses_tiny_exponents_without_hanging():
    with pytest.raises(ValidationFailed):
        to_minor("1E-999999999", EUR)
    assert to_minor("0E-999999999", EUR) == 0


@given(st.integers(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT), st.sampled_from([JPY, EUR, KWD]))
def test_to_major_and_to_minor_round_trip(minor, cur):
    assert to_minor(to_major(minor, cur), cur) == minor
    assert to_minor(str(to_major(minor, cur)), cur) == minor


@pytest.mark.parametrize(
    ("minor", "cur", "major"),
    [
        (1050, EUR, "10.50"),
        (1, EUR, "0.01"),
        (-1, EUR, "-0.01"),
        (0, EUR, "0.00"),
        (1050, JPY, "1050"),
        (1050, KWD, "1.050"),
        (MAX_AMOUNT, EUR, "90071992547409.91"),
    ],
)
def test_to_major_keeps_the_currency_exponent(minor, cur, major):
    got = to_major(minor, cur)
    assert str(got) == major
    assert to_minor(got, cur) == minor


def test_money_is_integer_minor_units_of_one_currency():
    a, b = Money(1000, EUR), Money(250, EUR)
    assert a + b == Money(1250, EUR)
    assert a - b == Money(750, EUR)
    assert Money(1050, EUR).major == Decimal("10.50")
    with pytest.raises(ValueError, match="EUR and JPY"):
        a + Money(1, JPY)
    with pytest.raises(TypeError):
        Money(10.5, EUR)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, EUR)
