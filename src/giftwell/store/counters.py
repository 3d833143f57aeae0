"""Counters per key and fixed window, the store under rate limits and the guessing guard.

Three stores behind one protocol, chosen by `GIFTWELL_RATE_LIMIT_STORAGE`:

- `MemoryCounters`: a dict in this process. The embedded default; no I/O on the hot path.
- `DatabaseCounters`: the `rate_limit_counters` table, so every API process on the same database
  shares the counts. One statement per call: a multi-row `INSERT ... ON CONFLICT DO UPDATE SET
  count = count + 1 RETURNING count`, atomic on SQLite and PostgreSQL alike.
- `LimitsCounters`: any storage the `limits` library offers (Redis, Memcached, ...), by URL.

Windows come from the runtime's clock (see `domain.ratelimit`), never from the store's, so all
processes agree on them and tests can move time. The database store must not be called while
the same task holds a unit of work open: on SQLite the engine has a single connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from giftwell.store.models import RateLimitCounter


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """One counter: `key` in the fixed window starting at `start` (epoch seconds)."""

    key: str
    start: int
    seconds: int

    @property
    def end(self) -> int:
        return self.start + self.seconds


class Counters(Protocol):
    async def incr(self, slots: Sequence[Slot]) -> list[int]:
        """Add one to each slot; the new counts, in the order given."""
        ...

    async def peek(self, slots: Sequence[Slot]) -> list[int]:
        """The current counts (0 for a slot never counted), in the order given."""
        ...

    async def purge(self, now: int) -> int:
        """Forget windows that ended by `now`; how many counters went."""
        ...

    async def close(self) -> None: ...


class MemoryCounters:
    """Counters in a dict. Safe without locks: nothing awaits between reading and writing."""

    # Ended windows are also dropped here at most this often, so a process that runs no
    # sweeper (`serve --no-background`) does not grow without end.
    SELF_PURGE_SECONDS = 60

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._ends: dict[tuple[str, int], int] = {}
        self._purged_at = 0

    async def incr(self, slots: Sequence[Slot]) -> list[int]:
        # A window that has started means its start is past: anything that ended by then is done.
        latest = max((s.start for s in slots), default=0)
        if latest >= self._purged_at + self.SELF_PURGE_SECONDS:
            self._purged_at = latest
            await self.purge(latest)
        out = []
        for s in slots:
            k = (s.key, s.start)
            n = self._counts.get(k, 0) + 1
            self._counts[k] = n
            self._ends[k] = s.end
            out.append(n)
        return out

    async def peek(self, slots: Sequence[Slot]) -> list[int]:
        return [self._counts.get((s.key, s.start), 0) for s in slots]

    async def purge(self, now: int) -> int:
        gone = [k for k, end in self._ends.items() if end <= now]
        for k in gone:
            del self._counts[k], self._ends[k]
        return len(gone)

    async def close(self) -> None:
        self._counts.clear()
        self._ends.clear()


class DatabaseCounters:
    """Counters in `rate_limit_counters`, each call its own statement."""

    def __init__(self, engine: AsyncEngine) -> None:
        postgres = engine.dialect.name == "postgresql"
        # Each call is one statement, atomic on its own: on PostgreSQL it runs in autocommit,
        # one round trip with no BEGIN or COMMIT, and a hot counter's row lock is held for that
        # statement only. SQLite keeps the engine's BEGIN IMMEDIATE (see store.engine).
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT") if postgres else engine
        self._insert: Any = postgresql.insert if postgres else sqlite.insert

    async def incr(self, slots: Sequence[Slot]) -> list[int]:
        if not slots:
            return []
        counts = await self.add(dict.fromkeys(slots, 1))
        return [counts[s] for s in slots]

    async def add(self, amounts: dict[Slot, int]) -> dict[Slot, int]:
        """Add `amounts[slot]` to each slot in one statement; the new count of each."""
        if not amounts:
            return {}
        # Sorted, so two transactions touching the same rows lock them in the same order and
        # cannot deadlock (a dict's keys are unique: PostgreSQL refuses to update a row twice in
        # one statement).
        unique = sorted(amounts)
        ins = self._insert(RateLimitCounter).values(
            [{"key": s.key, "window_start": s.start, "expires_at": s.end, "count": amounts[s]} for s in unique]
        )
        stmt = ins.on_conflict_do_update(
            index_elements=[RateLimitCounter.key, RateLimitCounter.window_start],
            set_={"count": RateLimitCounter.count + ins.excluded["count"]},
        ).returning(RateLimitCounter.key, RateLimitCounter.window_start, RateLimitCounter.count)
        async with self.engine.begin() as conn:
            rows = (await conn.execute(stmt)).all()
        counts = {(r[0], r[1]): int(r[2]) for r in rows}
        return {s: counts[(s.key, s.start)] for s in unique}

    async def peek(self, slots: Sequence[Slot]) -> list[int]:
        if not slots:
            return []
        wanted = sa.or_(
            *(sa.and_(RateLimitCounter.key == s.key, RateLimitCounter.window_start == s.start) for s in slots)
        )
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(RateLimitCounter.key, RateLimitCounter.window_start, RateLimitCounter.count).where(wanted)
                )
            ).all()
        counts = {(r[0], r[1]): int(r[2]) for r in rows}
        return [counts.get((s.key, s.start), 0) for s in slots]

    async def purge(self, now: int) -> int:
        async with self.engine.begin() as conn:
            res = await conn.execute(sa.delete(RateLimitCounter).where(RateLimitCounter.expires_at <= now))
        return int(res.rowcount or 0)

    async def close(self) -> None:
        """The engine belongs to the runtime, which disposes of it."""


class LimitsCounters:
    """Counters in a `limits` storage (`limits.aio.storage.Storage`), e.g. Redis. The window start
    is part of the key and the store expires each key when its window ends."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage

    async def incr(self, slots: Sequence[Slot]) -> list[int]:
        return [int(await self.storage.incr(f"giftwell/{s.key}/{s.start}", s.seconds)) for s in slots]

    async def peek(self, slots: Sequence[Slot]) -> list[int]:
        return [int(await self.storage.get(f"giftwell/{s.key}/{s.start}")) for s in slots]

    async def purge(self, now: int) -> int:
        return 0  # the store expires keys itself

    async def close(self) -> None:
        """Nothing to release: the storage's client closes with the process."""


def build(storage: str, engine: AsyncEngine) -> Counters:
    """The store named by the resolved `rate_limit_storage` setting."""
    if storage == "memory":
        return MemoryCounters()
    if storage == "database":
        return DatabaseCounters(engine)
    from limits.storage import storage_from_string

    # limits names its asyncio implementations "async+<scheme>".
    return LimitsCounters(storage_from_string(storage if storage.startswith("async+") else f"async+{storage}"))
