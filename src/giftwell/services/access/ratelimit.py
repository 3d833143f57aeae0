"""Request rate limits: count a request against each of its keys (its token, its address) and
say whether it may go on, with what is left of the tightest limit for the `RateLimit-*` headers.

Any entry point can limit on keys of its own (a sign-in page by address, say) through `hit`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from giftwell.domain.errors import RateLimited
from giftwell.domain.ratelimit import Rate, ip_key
from giftwell.services.runtime import Runtime
from giftwell.store.batched_counters import BATCH_MIN_COUNT
from giftwell.store.counters import Slot


@dataclass(frozen=True, slots=True)
class Quota:
    """What a limit leaves the caller, per the IETF RateLimit header fields draft."""

    limit: int
    remaining: int
    reset: int  # seconds until the window ends

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


@dataclass(frozen=True, slots=True)
class Decision:
    quota: Quota | None  # the tightest limit counted; None when no limit applied
    retry_after: int | None  # set when a limit is exhausted

    def check(self) -> None:
        """Raise `RateLimited` when the request went over a limit."""
        if self.retry_after is not None:
            raise RateLimited("too many requests; retry later", retry_after=self.retry_after)


NO_LIMIT = Decision(None, None)


async def hit(rt: Runtime, rules: Sequence[tuple[str, Rate]]) -> Decision:
    """Count one request against each `(key, rate)` in one call to the counter store."""
    if not rules:
        return NO_LIMIT
    now = rt.clock().timestamp()
    slots = [Slot(key, rate.window_start(now), rate.seconds) for key, rate in rules]
    # Generous limits are counted in batches (store/batched_counters.py), tight ones exactly.
    batched = [rate.count >= BATCH_MIN_COUNT for _, rate in rules]
    if not any(batched):
        counts = await rt.counters.incr(slots)
    elif all(batched):
        counts = await rt.batched_counters.incr(slots)
    else:
        exact = iter(await rt.counters.incr([s for s, b in zip(slots, batched, strict=True) if not b]))
        loose = iter(await rt.batched_counters.incr([s for s, b in zip(slots, batched, strict=True) if b]))
        counts = [next(loose) if b else next(exact) for b in batched]
    quotas = []
    retry_after: int | None = None
    for (_, rate), slot, n in zip(rules, slots, counts, strict=True):
        reset = max(1, math.ceil(slot.end - now))
        quotas.append(Quota(rate.count, max(0, rate.count - n), reset))
        if n > rate.count:
            retry_after = max(retry_after or 0, reset)
    tightest = min(quotas, key=lambda q: (q.remaining, -q.reset))
    return Decision(tightest, retry_after)


async def hit_request(rt: Runtime, *, ip: str, token_key: str | None) -> Decision:
    """The API's limits: per client address and, when a bearer token was sent, per token.
    `token_key` identifies the token without being it (a keyed hash)."""
    rules: list[tuple[str, Rate]] = []
    if rt.ip_rate is not None:
        rules.append((f"ip:{ip_key(ip)}", rt.ip_rate))
    if token_key is not None and rt.token_rate is not None:
        rules.append((f"tok:{token_key}", rt.token_rate))
    return await hit(rt, rules)


async def purge(rt: Runtime) -> int:
    """Forget counters whose window has ended (the sweeper calls this)."""
    return await rt.counters.purge(int(rt.clock().timestamp()))
