"""Periodic sweeps: expire cards past their date (and choice reward links: see
services/delivery/choice.py), void holds past their TTL, purge old
idempotency keys, used token ids past their window and ended rate-limit windows. Each batch is its own transaction; every step is
guarded, so several processes may sweep at once without doing anything twice. The workers run it
every `sweep_interval_seconds` as the periodic task "sweep" (jobs/schedules.py); `giftwell sweep`
runs it once by hand."""

from __future__ import annotations

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


async def sweep_once(rt: Runtime, *, batch: int = 200) -> SweepResult:
    result = SweepResult()
    while True:
        async with rt.uow() as uow:
            n = await expiry.expire_due(uow, limit=batch)
            await uow.commit()
        result.cards_expired += n
        if n < batch:
            break
    while True:
        async with rt.uow() as uow:
            n = await choice_picks.expire_due(uow, limit=batch)
            await uow.commit()
        result.links_expired += n
        if n < batch:
            break
    while True:
        async with rt.uow() as uow:
            n = await expiry.expire_holds(uow, limit=batch)
            await uow.commit()
        result.holds_expired += n
        if n < batch:
            break
    async with rt.uow() as uow:
        result.keys_purged = await idempotency.purge(uow)
        result.token_ids_purged = await signing_keys.purge_used_token_ids(uow)
        await uow.commit()
    result.counters_purged = await ratelimit.purge(rt)
    return result
