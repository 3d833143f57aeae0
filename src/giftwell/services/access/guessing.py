"""The guessing guard: every entry point that takes a card code runs its lookup inside `guard`.

Failed lookups (`CodeNotFound`) are counted per client (token id) and per IP address in fixed
windows of `guess_window_seconds`. Once either has `guess_max_failures` failures in the current
window, every lookup from it is refused with `TooManyAttempts` (429) until the window ends, even
with a right code, so a guesser learns nothing more. Found cards are not counted: a busy till
never locks itself out.

`check` reads the counters before the lookup and `record_failure` adds to them after a failed
one; between the two a guesser's requests already in flight can still fail, so a window may
admit `max_failures` plus the guesser's concurrency. docs/access.md states the odds with it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator

from giftwell.domain import codes
from giftwell.domain.errors import CodeNotFound, TooManyAttempts
from giftwell.domain.guessing import DEFAULT_ATTACKERS, Odds
from giftwell.domain.ratelimit import ip_key
from giftwell.services.runtime import Runtime
from giftwell.settings import Settings
from giftwell.store.counters import Slot


def _slots(rt: Runtime, client: str | None, ip: str | None) -> tuple[list[Slot], float]:
    now = rt.clock().timestamp()
    seconds = rt.settings.guess_window_seconds
    start = int(now // seconds) * seconds
    keys = ([f"guess:tok:{client}"] if client else []) + ([f"guess:ip:{ip_key(ip)}"] if ip else [])
    return [Slot(k, start, seconds) for k in keys], now


async def check(rt: Runtime, *, client: str | None, ip: str | None) -> None:
    """Refuse with `TooManyAttempts` when the client or the address is out of failed lookups."""
    slots, now = _slots(rt, client, ip)
    if not slots:
        return
    counts = await rt.counters.peek(slots)
    limit = rt.settings.guess_max_failures
    if any(n >= limit for n in counts):
        retry_after = max(1, math.ceil(slots[0].end - now))
        raise TooManyAttempts("too many failed lookups; retry later", retry_after=retry_after)


async def record_failure(rt: Runtime, *, client: str | None, ip: str | None) -> None:
    """Count one failed lookup against the client and the address."""
    slots, _ = _slots(rt, client, ip)
    if slots:
        await rt.counters.incr(slots)


@contextlib.asynccontextmanager
async def guard(rt: Runtime, *, client: str | None, ip: str | None) -> AsyncIterator[None]:
    """Run a code lookup under the guard: refused when out of attempts, counted when it fails.

    Open it outside the lookup's unit of work, so the failure is counted (in a transaction of
    its own, with the database store) after the lookup's transaction has ended.
    """
    await check(rt, client=client, ip=ip)
    try:
        yield
    except CodeNotFound:
        await record_failure(rt, client=client, ip=ip)
        raise


def odds(settings: Settings, *, live_cards: int, attackers: int = DEFAULT_ATTACKERS) -> Odds:
    """The yearly odds of guessing one of `live_cards` codes of the default format under the
    configured guard, with `attackers` clients or addresses guessing in parallel."""
    return Odds(
        bits=codes.DEFAULT_FORMAT.entropy_bits,
        live_cards=live_cards,
        max_failures=settings.guess_max_failures,
        window_seconds=settings.guess_window_seconds,
        attackers=attackers,
    )
