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
