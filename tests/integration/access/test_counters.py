"""The counter stores behind rate limits and the guessing guard: the database one on both
databases, the in-process one, and the `limits` adapter (on limits' own memory storage, the code
path a Redis URL takes)."""

from __future__ import annotations

import pytest
from limits.storage import storage_from_string

from giftwell.app import build_runtime
from giftwell.store.counters import DatabaseCounters, LimitsCounters, MemoryCounters, Slot, build

A = Slot("ip:203.0.113.1", 600, 60)
B = Slot("tok:abc", 600, 60)
A_NEXT = Slot("ip:203.0.113.1", 660, 60)


async def exercise(store) -> None:
    assert await store.peek([A, B]) == [0, 0]
    assert await store.incr([A, B]) == [1, 1]
    assert await store.incr([B, A]) == [2, 2]  # results follow the order asked
    assert await store.incr([A]) == [3]
    assert await store.peek([B, A, A_NEXT]) == [2, 3, 0]
    assert await store.incr([A_NEXT]) == [1]  # a new window starts from zero


async def test_database_counters(rt):
    store = DatabaseCounters(rt.engine)
    await exercise(store)
    assert await store.purge(now=659) == 0
    assert await store.purge(now=660) == 2  # A and B's window ended; A_NEXT's has not
    assert await store.peek([A, B, A_NEXT]) == [0, 0, 1]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_postgresql_keeps_counters_unlogged(rt):
    """No WAL for counters: an increment's commit never waits on a disk flush."""
    async with rt.engine.connect() as conn:
        kind = await conn.exec_driver_sql(
            "SELECT relpersistence::text FROM pg_class WHERE relname = 'rate_limit_counters'"
        )
        assert kind.scalar_one() == "u"


async def test_database_counters_are_shared_between_engines(settings):

    one, two = build_runtime(settings), build_runtime(settings)
    try:
        assert await DatabaseCounters(one.engine).incr([A]) == [1]
        assert await DatabaseCounters(two.engine).incr([A]) == [2]
    finally:
        await one.close()
        await two.close()


async def test_memory_counters():
    store = MemoryCounters()
    await exercise(store)
    # Starting A_NEXT's window dropped A's and B's, which had ended by then.
    assert await store.peek([A, B, A_NEXT]) == [0, 0, 1]
    assert await store.purge(now=720) == 1


async def test_memory_counters_drop_ended_windows_on_their_own():
    store = MemoryCounters()
    await store.incr([A, B])
    later = Slot("ip:198.51.100.1", 600 + 3600, 60)
    await store.incr([later])
    assert await store.peek([A, B, later]) == [0, 0, 1]
    assert len(store._counts) == 1


async def test_limits_adapter():
    store = LimitsCounters(storage_from_string("async+memory://"))
    await exercise(store)
    assert await store.purge(now=660) == 0  # the storage expires keys itself


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_build_picks_the_store(rt, db_url):
    assert isinstance(build("memory", rt.engine), MemoryCounters)
    assert isinstance(build("database", rt.engine), DatabaseCounters)
    assert isinstance(build("memory://", rt.engine), LimitsCounters)


class Mono:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


async def test_batched_counters_write_once_per_interval_and_share_totals(settings):
    """Two processes' batched stores on one database: each counts its own requests at once and
    the other's after a flush; between flushes nothing reaches the database."""
    from giftwell.store.batched_counters import BatchedCounters

    one, two = build_runtime(settings), build_runtime(settings)
    mono = Mono()
    shared = DatabaseCounters(one.engine)
    a, b = (
        BatchedCounters(shared, interval=1.0, monotonic=mono),
        BatchedCounters(DatabaseCounters(two.engine), interval=1.0, monotonic=mono),
    )
    try:
        assert await a.incr([A, B]) == [1, 1]
        assert await a.incr([A]) == [2]
        assert await b.incr([A]) == [1]
        assert await shared.peek([A, B]) == [0, 0]  # nothing written yet
        mono.t = 1.0
        assert await a.incr([A]) == [3]  # this call flushes a's 3 and 1
        assert await shared.peek([A, B]) == [3, 1]
        assert await b.incr([A]) == [5]  # b's 2 added to the 3 already there
        assert await shared.peek([A]) == [5]
        assert await a.incr([A]) == [4]  # a learns of b's at its next flush ...
        mono.t = 2.0
        assert await a.incr([A]) == [7]  # ... here: 5 + a's 2
        await a.close()
        await b.close()
        assert await shared.peek([A, B]) == [7, 1]
    finally:
        await one.close()
        await two.close()


async def test_runtime_batches_only_generous_limits(rt, settings):
    """The request limits (300,000 a minute by default) go to the batched store on the database;
    a tight limit is counted exactly at once."""
    from giftwell.services.access import ratelimit
    from giftwell.settings import parse_rate
    from giftwell.store.batched_counters import BatchedCounters

    if rt.settings.resolved_rate_limit_storage != "database":
        assert rt.batched_counters is rt.counters
        return
    assert isinstance(rt.batched_counters, BatchedCounters)
    rt.batched_counters.interval = 3600.0  # no flush during the test
    rules = [("ip:x", parse_rate("300000/minute")), ("tok:y", parse_rate("3/minute"))]
    assert rules[0][1] is not None
    assert rules[1][1] is not None
    for n in (1, 2):
        d = await ratelimit.hit(rt, rules)  # type: ignore[arg-type]
        assert d.quota is not None
        assert d.quota.remaining == 3 - n
    start = rules[1][1].window_start(rt.clock().timestamp())
    tight, loose = Slot("tok:y", start, 60), Slot("ip:x", start, 60)
    assert await rt.counters.peek([tight, loose]) == [2, 0]  # the generous one waits for a flush
