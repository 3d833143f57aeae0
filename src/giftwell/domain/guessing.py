"""The odds that someone guesses a live card code, given how hard the guessing guard throttles.

Each client (token) and each IP may fail `max_failures` code lookups per `window_seconds` window;
past that they get 429 until the window ends. So one attacker gets at most
G1 = max_failures * ceil(year / window) guesses a year, and `attackers` of them together
G = attackers * G1. With N live codes drawn uniformly from 2^bits, the union bound gives
P(at least one hit in a year) <= G * N / 2^bits, which should stay under one in a million.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from giftwell.domain.codes import guess_probability_per_year

SECONDS_PER_YEAR = 365.25 * 24 * 3600
ACCEPTABLE = 1e-6
DEFAULT_ATTACKERS = 10_000


@dataclass(frozen=True, slots=True)
class Odds:
    """Guessing odds for one configuration; every figure is per year."""

    bits: float
    live_cards: int
    max_failures: int
    window_seconds: int
    attackers: int = DEFAULT_ATTACKERS

    @property
    def windows_per_year(self) -> int:
        # A window cut short by the year's end still admits a full allowance: round up.
        return math.ceil(SECONDS_PER_YEAR / self.window_seconds)

    @property
    def guesses_per_attacker(self) -> int:
        return self.max_failures * self.windows_per_year

    @property
    def guesses(self) -> int:
        return self.guesses_per_attacker * self.attackers

    @property
    def probability(self) -> float:
        return guess_probability_per_year(bits=self.bits, live_cards=self.live_cards, guesses_per_year=self.guesses)

    @property
    def acceptable(self) -> bool:
        return self.probability < ACCEPTABLE

    def as_dict(self) -> dict[str, float | int | bool]:
        return {
            "bits": self.bits,
            "live_cards": self.live_cards,
            "max_failures": self.max_failures,
            "window_seconds": self.window_seconds,
            "attackers": self.attackers,
            "guesses_per_year_per_attacker": self.guesses_per_attacker,
            "guesses_per_year": self.guesses,
            "probability_per_year": self.probability,
            "acceptable": self.acceptable,
        }
