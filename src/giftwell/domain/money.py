"""Money: integer minor units of an ISO-4217 currency.

Inside Giftwell every amount is an `int` of minor units. Amounts from outside arrive as decimals
(never floats) and are converted with `to_minor`, which refuses more precision than the currency
has instead of rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from giftwell.domain.errors import ValidationFailed

# The largest amount one operation may carry: the largest integer every JSON client reads exactly
# (JavaScript's Number.MAX_SAFE_INTEGER), and far enough below the 64-bit columns that balances
# and ledger sums have room. Larger values are refused, never truncated or overflowed.
MAX_AMOUNT = 2**53 - 1


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO-4217 currency and its exponent (JPY 0, EUR 2, KWD 3)."""

    code: str
    exponent: int

    @property
    def factor(self) -> int:
        return int(10**self.exponent)


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: Currency

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("Money.amount must be an int of minor units")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency.code} and {other.currency.code}")

    @property
    def major(self) -> Decimal:
        return to_major(self.amount, self.currency)


def to_minor(value: Decimal | int | str, currency: Currency, *, param: str = "amount") -> int:
    """Convert a decimal amount in major units to minor units, exactly.

    Raises `ValidationFailed` naming `param` when the value is not a finite number, has more
    decimal places than the currency allows (50.001 EUR is refused, never rounded; the error's
    fields say `rule="decimal_places"` and `decimals`), or is beyond `MAX_AMOUNT` minor units
    (`rule="max"`, with `max` in minor units and `decimals`). Works on the decimal's digits, not
    through a `Decimal` context, so no precision limit can round a value and no exponent can make
    the conversion slow.
    """
    if isinstance(value, (bool, float)):
        raise ValidationFailed(f"{param} must be a decimal number, not {type(value).__name__}", param=param)
    try:
        dec = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{param} must be a number", param=param) from None
    if not dec.is_finite():
        raise ValidationFailed(f"{param} must be a finite number", param=param)
    sign, digits, exp = dec.as_tuple()
    assert isinstance(exp, int)  # finite, checked above
    significant = list(digits)
    # Trailing zeros after the decimal point are not precision (10.50 EUR is 1050 cents).
    while exp < -currency.exponent and significant and significant[-1] == 0:
        significant.pop()
        exp += 1
    if exp < -currency.exponent and any(significant):
        raise ValidationFailed(
            f"{param} has more decimal places than {currency.code} allows ({currency.exponent})",
            param=param,
            rule="decimal_places",
            decimals=currency.exponent,
        )
    if not any(significant):
        return 0
    shift = exp + currency.exponent  # >= 0: a negative shift with a non-zero last digit raised above
    # A Decimal has no leading zeros, so its digit count bounds its size: the cheap test first,
    # so that no exponent can make us build a huge integer.
    too_large = ValidationFailed(
        f"{param} is too large", param=param, rule="max", max=MAX_AMOUNT, decimals=currency.exponent
    )
    if len(significant) + shift > len(str(MAX_AMOUNT)):
        raise too_large
    minor: int = int("".join(map(str, significant))) * 10**shift
    if minor > MAX_AMOUNT:
        raise too_large
    return -minor if sign else minor


def to_major(amount: int, currency: Currency) -> Decimal:
    """Minor units to a Decimal in major units with the currency's exponent (1050 EUR -> 10.50)."""
    return Decimal(amount).scaleb(-currency.exponent)


def decimal_text(value: Decimal) -> str:
    """The shortest exact JSON number for a finite decimal: 50, 40.5, 0.001 (50.00 is 50)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"", "-0"} else text
