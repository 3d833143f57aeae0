"""A short-lived cache of verified bearer tokens, so that most requests skip the database.

Keyed by the token's keyed hash (never the token). An entry lives `ttl` seconds (monotonic
clock) and never past the token's own expiry. Revocation takes effect:

- in the process that revoked, at once: the revoking transaction calls `clear()` after its commit;
- in every other process, within `ttl` seconds (the setting `token_cache_seconds`, 1 by default).

`generation` closes the race between a lookup and a revocation in the same process: a lookup that
started before a `clear()` must not put what it read (possibly the token before its revocation
committed) into the cache after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Generic, TypeVar

V = TypeVar("V")


class TokenCache(Generic[V]):
    def __init__(self, ttl: float, *, max_entries: int = 10_000, monotonic: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[str, tuple[float, datetime | None, V]] = {}
        self.generation = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, key: str, now: datetime) -> V | None:
        """The cached value, unless its time in the cache or the token's own life has passed."""
        hit = self._entries.get(key)
        if hit is None:
            return None
        until, expires_at, value = hit
        if until <= self._monotonic() or (expires_at is not None and expires_at <= now):
            self._entries.pop(key, None)
            return None
        return value

    def put(self, key: str, value: V, *, expires_at: datetime | None, generation: int) -> None:
        """Remember `value`, read while the cache was at `generation` (dropped if it has moved on)."""
        if not self.enabled or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._drop_stale()
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[key] = (self._monotonic() + self.ttl, expires_at, value)

    def clear(self) -> None:
        """Forget everything (a token was revoked in this process)."""
        self.generation += 1
        self._entries.clear()

    def _drop_stale(self) -> None:
        now = self._monotonic()
        for key in [k for k, (until, _, _) in self._entries.items() if until <= now]:
            del self._entries[key]
