"""The token cache's rules: an entry lives its TTL and never past the token's expiry, a clear
forgets everything, and a lookup that started before a clear cannot put a stale answer back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from giftwell.domain.token_cache import TokenCache

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)


class Mono:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_entry_lives_its_ttl_only() -> None:
    mono = Mono()
    cache: TokenCache[str] = TokenCache(1.0, monotonic=mono)
    cache.put("h", "p", expires_at=None, generation=cache.generation)
    assert cache.get("h", NOW) == "p"
    mono.t += 0.99
    assert cache.get("h", NOW) == "p"
    mono.t += 0.02
    assert cache.get("h", NOW) is None


def test_entry_never_outlives_the_token() -> None:
    cache: TokenCache[str] = TokenCache(60.0, monotonic=Mono())
    cache.put("h", "p", expires_at=NOW + timedelta(seconds=5), generation=cache.generation)
    assert cache.get("h", NOW) == "p"
    assert cache.get("h", NOW + timedelta(seconds=5)) is None


def test_clear_forgets_and_refuses_lookups_begun_before_it() -> None:
    cache: TokenCache[str] = TokenCache(60.0, monotonic=Mono())
    cache.put("a", "p", expires_at=None, generation=cache.generation)
    started = cache.generation  # a lookup reads the database ...
    cache.clear()  # ... while a revocation commits
    assert cache.get("a", NOW) is None
    cache.put("b", "stale", expires_at=None, generation=started)
    assert cache.get("b", NOW) is None
    cache.put("b", "fresh", expires_at=None, generation=cache.generation)
    assert cache.get("b", NOW) == "fresh"


def test_zero_ttl_caches_nothing_and_size_is_bounded() -> None:
    off: TokenCache[str] = TokenCache(0)
    off.put("h", "p", expires_at=None, generation=off.generation)
    assert off.get("h", NOW) is None
    small: TokenCache[int] = TokenCache(60.0, max_entries=3, monotonic=Mono())
    for i in range(10):
        small.put(str(i), i, expires_at=None, generation=small.generation)
    assert len(small._entries) <= 3
    assert small.get("9", NOW) == 9
