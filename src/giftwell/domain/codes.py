"""Card codes: generation, normalisation, check digits and entropy.

The default format is 16 symbols of Crockford's base-32 alphabet (no I, L, O or U, so nothing
reads as another symbol): 80 bits of entropy, shown as four groups of four. Numeric formats with a
Luhn check digit exist for terminals that only take digits; their entropy is reported so the
guessing odds can be computed. Codes supplied by a caller are 8 to 64 characters.

Lookups never use the code itself: callers hash `normalize(code)` with a keyed hash.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from giftwell.domain.errors import ValidationFailed

UNAMBIGUOUS_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DIGITS = "0123456789"
MIN_SUPPLIED_LENGTH = 8
MAX_SUPPLIED_LENGTH = 64
MIN_GENERATED_BITS = 40
_SUPPLIED_RE = re.compile(r"^[A-Za-z0-9 \-]+$")


@dataclass(frozen=True, slots=True)
class CodeFormat:
    """How to generate a code. `length` counts generated symbols, the check digit included."""

    kind: Literal["alphanumeric", "numeric"] = "alphanumeric"
    length: int = 16
    luhn: bool = False
    prefix: str = ""
    group: int = 4

    def __post_init__(self) -> None:
        if self.kind == "alphanumeric" and self.luhn:
            raise ValidationFailed("a Luhn check digit needs a numeric format", param="code_format.luhn")
        if self.prefix and not (self.prefix.isascii() and self.prefix.isdigit()) and self.kind == "numeric":
            raise ValidationFailed("a numeric format takes a numeric prefix", param="code_format.prefix")
        total = len(self.prefix) + self.length
        if not MIN_SUPPLIED_LENGTH <= total <= MAX_SUPPLIED_LENGTH:
            raise ValidationFailed(
                f"code length must be {MIN_SUPPLIED_LENGTH} to {MAX_SUPPLIED_LENGTH}", param="code_format.length"
            )
        if self.entropy_bits < MIN_GENERATED_BITS:
            raise ValidationFailed(
                f"code format has {self.entropy_bits:.1f} bits of entropy; at least {MIN_GENERATED_BITS} needed",
                param="code_format.length",
            )

    @property
    def alphabet(self) -> str:
        return DIGITS if self.kind == "numeric" else UNAMBIGUOUS_ALPHABET

    @property
    def random_symbols(self) -> int:
        return self.length - (1 if self.luhn else 0)

    @property
    def entropy_bits(self) -> float:
        return self.random_symbols * math.log2(len(self.alphabet))


DEFAULT_FORMAT = CodeFormat()


def generate(fmt: CodeFormat = DEFAULT_FORMAT) -> str:
    """A new code in its display form (groups joined by dashes for alphanumeric codes)."""
    # One draw, uniform over every string of the symbols (the same distribution as a choice per
    # symbol, at one system call instead of one or more per symbol), read out digit by digit.
    alphabet, n = fmt.alphabet, len(fmt.alphabet)
    value = secrets.randbelow(n**fmt.random_symbols)
    symbols = []
    for _ in range(fmt.random_symbols):
        value, digit = divmod(value, n)
        symbols.append(alphabet[digit])
    body = "".join(symbols)
    raw = fmt.prefix + body
    if fmt.luhn:
        raw += luhn_check_digit(raw)
    if fmt.kind == "numeric" or fmt.group <= 0:
        return raw
    return "-".join(raw[i : i + fmt.group] for i in range(0, len(raw), fmt.group))


def normalize(code: str) -> str:
    """The form that is hashed for lookup: case, spaces and dashes ignored."""
    return code.replace("-", "").replace(" ", "").upper()


def check_supplied(code: str, *, param: str = "code") -> str:
    """Validate a caller-supplied code; returns it stripped of surrounding whitespace."""
    code = code.strip()
    if not _SUPPLIED_RE.match(code):
        raise ValidationFailed("code may contain only letters, digits, spaces and dashes", param=param)
    n = len(normalize(code))
    if not MIN_SUPPLIED_LENGTH <= n <= MAX_SUPPLIED_LENGTH:
        raise ValidationFailed(
            f"code must be {MIN_SUPPLIED_LENGTH} to {MAX_SUPPLIED_LENGTH} characters (spaces and dashes not counted)",
            param=param,
        )
    return code


def last4(code: str) -> str:
    return normalize(code)[-4:]


def luhn_check_digit(digits: str) -> str:
    """The digit that makes `digits + d` pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    # isdigit() alone admits "²" and other Unicode digits, on which int() raises or which no
    # terminal would type: only ASCII digits are a card number.
    return len(number) > 1 and number.isascii() and number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def guess_probability_per_year(*, bits: float, live_cards: int, guesses_per_year: float) -> float:
    """P(at least one hit in a year) bounded by G*N / 2^bits (the union bound)."""
    return float(guesses_per_year * live_cards / 2.0**bits)
