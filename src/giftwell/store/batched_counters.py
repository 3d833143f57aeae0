"""Generous limits without a database write per request: counts kept in the process and added to
the shared store (`DatabaseCounters`) in one statement at most every `interval` seconds.

A request's count is what the shared store said at the last flush plus what this process has
counted since, so a process's own requests are counted exactly and other processes' within one
flush. With P processes on one database a limit of L requests per window can let through at most
L plus what the other P-1 processes serve in about two flush intervals: nothing next to the
default 300,000 a minute, too much for a tight limit, so `services.access.ratelimit` sends only
limits of `BATCH_MIN_COUNT` or more per window here and counts tighter ones (the guessing guard,
a per-token limit of a few a minute) exactly, one statement each.

No lock is needed: nothing awaits between reading and writing the dicts, and a flush takes the
pending counts out before it awaits.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence

from giftwell.store.counters import DatabaseCounters, Slot

# Limits of at least this many requests per window are counted in batches.
BATCH_MIN_COUNT = 1000


class BatchedCounters:
    def __init__(
        self, shared: DatabaseCounters, *, interval: float = 0.2, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.shared = shared
        self.interval = interval
        self._monotonic = monotonic
        self._pending: dict[Slot, int] = {}  # counted here, not yet in the shared store
        self._known: dict[Slot, int] = {}  # the shared store's count at the last flush
        self._flushed_at = monotonic()
        self._flushing = False

    async def incr(self, slots: Sequence[Slot]) -> list[int]:
        for s in slots:
            self._pending[s] = self._pending.get(s, 0) + 1
        if not self._flushing and self._monotonic() - self._flushed_at >= self.interval:
            await self.flush()
        return [self._known.get(s, 0) + self._pending.get(s, 0) for s in slots]

    async def peek(self, slots: Sequence[Slot]) -> list[int]:
        return [self._known.get(s, 0) + self._pending.get(s, 0) for s in slots]

    async def flush(self) -> None:
        """Add what this process counted to the shared store (one statement), and learn the totals."""
        if self._flushing:
            return
        batch, self._pending = self._pending, {}
        self._flushing = True
        try:
            totals = await self.shared.add(batch)
        except BaseException:
            for s, n in batch.items():  # counted again at the next flush
                self._pending[s] = self._pending.get(s, 0) + n
            raise
        finally:
            self._flushing = False
            self._flushed_at = self._monotonic()
        self._known.update(totals)
        latest = max((s.start for s in totals), default=0)
        for s in [s for s in self._known if s.end <= latest]:  # windows that have ended
            del self._known[s]

    async def purge(self, now: int) -> int:
        for s in [s for s in self._known if s.end <= now]:
            del self._known[s]
        return await self.shared.purge(now)

    async def close(self) -> None:
        # At shutdown the database may be gone already: then the last counts go with the process.
        if self._pending:
            with contextlib.suppress(Exception):
                await self.flush()
