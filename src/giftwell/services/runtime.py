"""The runtime: settings, the engine, keys and the clock, built once by an entry point."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from giftwell.adapters import transports
from giftwell.domain.access import Principal
from giftwell.domain.token_cache import TokenCache
from giftwell.keys import Keys
from giftwell.settings import Settings
from giftwell.store import counters
from giftwell.store.batched_counters import BatchedCounters
from giftwell.store.engine import create_engine
from giftwell.store.uow import UnitOfWork

Clock = Callable[[], datetime]
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Runtime:
    def __init__(self, settings: Settings, *, clock: Clock = utc_now, engine: AsyncEngine | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.keys = Keys(settings.secret, settings.previous_secrets)
        self.engine = engine or create_engine(
            settings.resolved_database_url,
            pool_size=settings.db_pool_size,
            sqlite_synchronous=settings.sqlite_synchronous,
            pgbouncer=settings.database_pgbouncer,
        )
        # System ledger account ids never change once created; caching them keeps the hot path
        # from looking them up on every redemption.
        self.system_accounts: dict[tuple[str, str, str], str] = {}
        # Set after a commit that enqueued a job due now, so an in-process worker starts it at
        # once instead of at its next poll.
        self.jobs_wakeup = asyncio.Event()
        # Verified bearer tokens by hash, for a second or so: most requests skip the database.
        self.token_cache: TokenCache[Principal] = TokenCache(settings.token_cache_seconds)
        self.counters = counters.build(settings.resolved_rate_limit_storage, self.engine)
        # Where generous limits are counted: in batches in front of the database store, else the same store.
        self.batched_counters: counters.Counters = (
            BatchedCounters(self.counters) if isinstance(self.counters, counters.DatabaseCounters) else self.counters
        )
        # Parsed once: the limits are read on every request.
        self.token_rate = settings.token_rate
        self.ip_rate = settings.ip_rate
        self.trusted_proxies = settings.trusted_proxy_networks
        # How deliveries leave: SMTP and an SMS gateway, or the mail folder (services/transports.py).
        self.mailer = transports.mailer(settings, clock)
        self.sms = transports.sms(settings, clock)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self)

    async def transact(self, use_case: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run one use case (a step) in one transaction, committed when it returns: the boundary
        of a form post, a CLI command, a job's unit of work."""
        async with self.uow() as uow:
            result = await use_case(uow)
            await uow.commit()
        return result

    def reader(self) -> UnitOfWork:
        """A read-only unit of work (autocommit): for one read, such as a token check."""
        return UnitOfWork(self, read_only=True)

    async def close(self) -> None:
        if self.batched_counters is not self.counters:
            await self.batched_counters.close()
        await self.counters.close()
        await self.engine.dispose()
