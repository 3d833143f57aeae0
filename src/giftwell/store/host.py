"""What a unit of work needs from whoever runs it (the host): the engine to connect with, the
clock, the keys and settings the services reach through `uow.rt`, and two pieces of process
state the ledger and the queue share across transactions. `services.runtime.Runtime` is the one
host; a protocol keeps `store` from importing the layer above it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from giftwell.domain.access import Principal
from giftwell.domain.token_cache import TokenCache
from giftwell.keys import Keys
from giftwell.settings import Settings


class Host(Protocol):
    engine: AsyncEngine
    clock: Callable[[], datetime]
    keys: Keys
    settings: Settings
    # System ledger account ids by (account, kind, currency): they never change once created.
    system_accounts: dict[tuple[str, str, str], str]
    # Set after a commit that enqueued a job due now, to wake an in-process worker.
    jobs_wakeup: asyncio.Event
    # Verified bearer tokens, for `token_cache_seconds` (services/access/tokens.py).
    token_cache: TokenCache[Principal]
