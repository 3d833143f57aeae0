"""ISO-4217 currencies and their exponents, from the `iso4217` package (the ISO table itself)."""

from __future__ import annotations

from functools import lru_cache

from babel.numbers import get_territory_currencies
from iso4217 import Currency as IsoCurrency

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.money import Currency


@lru_cache(maxsize=512)
def _lookup(code: str) -> Currency | None:
    try:
        iso = IsoCurrency(code)
    except ValueError:
        return None
    if iso.exponent is None:  # gold, SDR, test codes: not money a card can hold
        return None
    return Currency(code, int(iso.exponent))


def currency(code: object, *, param: str = "currency") -> Currency:
    """The currency for an ISO-4217 alphabetic code, or a validation error naming `param`."""
    if not isinstance(code, str) or len(code) != 3 or not code.isalpha() or not code.isupper():
        raise ValidationFailed("currency must be an ISO-4217 code of three capital letters, like EUR", param=param)
    found = _lookup(code)
    if found is None:
        raise ValidationFailed(f"unknown or unsupported currency {code!r}", param=param)
    return found


@lru_cache(maxsize=1)
def by_exponent() -> dict[int, tuple[str, ...]]:
    """Every supported currency code, grouped by its exponent (0: JPY..., 2: EUR..., 3: KWD...)."""
    groups: dict[int, list[str]] = {}
    for iso in IsoCurrency:
        found = _lookup(iso.code)
        if found is not None:
            groups.setdefault(found.exponent, []).append(found.code)
    return {e: tuple(sorted(codes)) for e, codes in sorted(groups.items())}


def country_currency(country: object, *, param: str = "country") -> Currency:
    """The currency a country uses today (CLDR's territory data, through Babel): GB is GBP, CA is
    CAD. A code that is not two capital letters, or a territory with no tender, is refused."""
    if not isinstance(country, str) or len(country) != 2 or not country.isalpha() or not country.isupper():
        raise ValidationFailed(
            "country must be an ISO 3166-1 alpha-2 code of two capital letters, like GB", param=param
        )
    found = [c for c in get_territory_currencies(country) if _lookup(c) is not None]
    if not found:
        raise ValidationFailed(f"unknown country or one without a currency: {country!r}", param=param)
    return currency(found[0], param=param)
