"""An upstream supplier's OAuth tokens: an access token cached (encrypted) until shortly before
it expires, refreshed with the stored refresh token, which rotates on every refresh, or with the
client-credentials grant when the supplier has none.

Exactly one refresh may be in flight per supplier: the upstream revokes the whole family when a
refresh token is used twice. So a refresh runs inside a transaction that holds the supplier's row
(`SELECT ... FOR UPDATE` on PostgreSQL; on SQLite the transaction's write lock); a second worker
needing a token waits on that row, then finds the new token and uses it instead of refreshing
again. This is the one place a transaction is held across an outbound call, on purpose, for at
most `GIFTWELL_SUPPLIER_TIMEOUT_SECONDS`. A crash after the upstream rotated the token and before
our commit loses the new token: the next refresh presents the old one, the upstream revokes the
family, and the supplier is paused for an operator (`giftwell suppliers update NAME
--refresh-token-stdin`).

`call` runs one request with a token; a 401 gets one refresh (unless another worker already did
one since) and one retry; a second 401 pauses the supplier (`supplier.paused`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from giftwell.adapters.wizzgift import WizzGiftApi
from giftwell.domain.errors import NotFound
from giftwell.domain.suppliers import (
    SupplierPaused,
    SupplierStatus,
    UpstreamRefused,
    UpstreamUnauthorized,
)
from giftwell.services.catalog.upstream import config
from giftwell.services.runtime import Runtime
from giftwell.store.models import Supplier
from giftwell.store.uow import UnitOfWork

T = TypeVar("T")
# An access token this close to its expiry is refreshed before use.
EXPIRY_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Session:
    supplier_id: str
    name: str
    base_url: str
    access_token: str
    version: int


def api(rt: Runtime, base_url: str) -> WizzGiftApi:
    return WizzGiftApi(base_url, timeout=rt.settings.supplier_timeout_seconds)


def _usable(row: Any, now: datetime, stale: int | None) -> bool:
    fresh = row.access_token_enc is not None and row.access_expires_at is not None
    return fresh and row.access_expires_at > now + EXPIRY_MARGIN and row.token_version != stale


def _session(uow: UnitOfWork, row: Any) -> Session:
    token = config.unseal(uow, row.id, config.ACCESS_TOKEN, row.access_token_enc)
    return Session(row.id, row.name, row.base_url, token, int(row.token_version))


def _grant(uow: UnitOfWork, row: Any) -> dict[str, str]:
    params = {
        "client_id": row.client_id,
        "client_secret": config.unseal(uow, row.id, config.CLIENT_SECRET, row.client_secret_enc),
    }
    if row.refresh_token_enc is None:
        return {"grant_type": "client_credentials", **params}
    refresh = config.unseal(uow, row.id, config.REFRESH_TOKEN, row.refresh_token_enc)
    return {"grant_type": "refresh_token", "refresh_token": refresh, **params}


async def _row(uow: UnitOfWork, supplier_id: str, *, lock: bool) -> Any:
    q = sa.select(Supplier).where(Supplier.id == supplier_id)
    row = (await uow.conn.execute(q.with_for_update() if lock else q)).first()
    if row is None:
        raise NotFound("no such supplier", param="supplier")
    if row.status != SupplierStatus.ACTIVE.value:
        raise SupplierPaused(f"supplier {row.name!r} is paused: {row.paused_reason}")
    return row


async def session(rt: Runtime, supplier_id: str, *, stale: int | None = None) -> Session:
    """A usable access token for the supplier: the cached one, unless it is (nearly) expired or
    is the one of version `stale` (the caller saw it refused), in which case it is refreshed,
    one refresh at a time (see the module docstring). Raises `SupplierPaused`, or the adapter's
    `UpstreamUnavailable` (nothing changed; try again later)."""
    async with rt.reader() as uow:
        row = await _row(uow, supplier_id, lock=False)
        if _usable(row, uow.now, stale):
            return _session(uow, row)
    async with rt.uow() as uow:
        row = await _row(uow, supplier_id, lock=True)
        if _usable(row, uow.now, stale):
            return _session(uow, row)  # another worker refreshed while we waited for the row
        try:
            got = await api(rt, row.base_url).token(_grant(uow, row))
        except (UpstreamUnauthorized, UpstreamRefused) as exc:
            await config.pause(uow, supplier_id=row.id, reason=f"the token endpoint refused us: {exc.message}")
            await uow.commit()
            raise SupplierPaused(f"supplier {row.name!r} paused: its token endpoint refused us") from None
        values: dict[str, Any] = {
            "access_token_enc": config.seal(uow, row.id, config.ACCESS_TOKEN, got.access_token),
            "access_expires_at": uow.now + timedelta(seconds=got.expires_in),
            "token_version": Supplier.token_version + 1,
            "updated_at": uow.now,
        }
        if got.refresh_token is not None and row.refresh_token_enc is not None:
            values["refresh_token_enc"] = config.seal(uow, row.id, config.REFRESH_TOKEN, got.refresh_token)
        await uow.conn.execute(sa.update(Supplier).where(Supplier.id == row.id).values(**values))
        await uow.commit()
    return Session(row.id, row.name, row.base_url, got.access_token, int(row.token_version) + 1)


async def call(rt: Runtime, supplier_id: str, request: Callable[[WizzGiftApi, str], Awaitable[T]]) -> T:
    """`request(api, access_token)` against the supplier, with one refresh and retry on a 401;
    a 401 after the refresh pauses the supplier (`SupplierPaused`)."""
    s = await session(rt, supplier_id)
    try:
        return await request(api(rt, s.base_url), s.access_token)
    except UpstreamUnauthorized:
        pass
    s = await session(rt, supplier_id, stale=s.version)
    try:
        return await request(api(rt, s.base_url), s.access_token)
    except UpstreamUnauthorized as exc:
        reason = f"401 after a token refresh: {exc.message}"
        await rt.transact(lambda uow: config.pause(uow, supplier_id=supplier_id, reason=reason))
        raise SupplierPaused(f"supplier {s.name!r} paused: {reason}") from None
