"""ISO-4217 currencies and their exponents, from the `iso4217` package (the ISO table itself)."""

from __future__ import annotations

from functools import lru_cache

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
