"""Periodic sweeps: expire cards past their date (and choice reward links: see
services/delivery/choice.py), void holds past their TTL, purge old
idempotency keys, used token ids past their window and ended rate-limit windows. Each batch is its own transaction; every step is
guarded, so several processes may sweep at once without doing anything twice. The workers run it
every `sweep_interval_seconds` as the periodic task "sweep" (jobs/schedules.py); `giftwell sweep`
runs it once by hand."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from giftwell.services.access import idempotency, ratelimit, signing_keys
from giftwell.services.cards import expiry
from giftwell.services.delivery import choice_picks
from giftwell.services.runtime import Runtime


@dataclass
class SweepResult:
    cards_expired: int = 0
    links_expired: int = 0
    holds_expired: int = 0
    keys_purged: int = 0
    counters_purged: int = 0
    token_ids_purged: int = 0


Step = Callable[..., Awaitable[int]]


async def _drain(rt: Runtime, step: Step, batch: int) -> int:
    """Run `step` batch after batch, each its own transaction, until a batch is short."""
    total = 0
    while True:
        async with rt.uow() as uow:
            n = await step(uow, limit=batch)
            await uow.commit()
        total += n
        if n < batch:
            return total


async def sweep_once(rt: Runtime, *, batch: int = 200) -> SweepResult:
    result = SweepResult()
    result.cards_expired = await _drain(rt, expiry.expire_due, batch)
    result.links_expired = await _drain(rt, choice_picks.expire_due, batch)
    result.holds_expired = await _drain(rt, expiry.expire_holds, batch)
    async with rt.uow() as uow:
        result.keys_purged = await idempotency.purge(uow)
        result.token_ids_purged = await signing_keys.purge_used_token_ids(uow)
        await uow.commit()
    result.counters_purged = await ratelimit.purge(rt)
    return result
