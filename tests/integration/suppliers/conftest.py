"""Two Giftwells on loopback, in threads of the test process: B (its own SQLite file, its own
worker) and A (the test's database, both backends, its own worker), A buying from B through B's
`/api/b2b`, optionally through a `FaultProxy`. Both on the real clock: their workers, leases and
tokens must agree on the time with the test's polling."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from giftwell.app import build_runtime
from giftwell.services.runtime import Runtime
from giftwell.settings import Settings
from giftwell.store.models import Order
from tests import factories, upstream
from tests.pg import free_port


@dataclass
class Pair:
    a_url: str
    b_url: str
    ra: Runtime
    rb: Runtime
    sa: Settings
    b: dict[str, Any]
    buyer: factories.Tenant
    proxy: upstream.FaultProxy | None
    http: httpx.AsyncClient = field(default_factory=httpx.AsyncClient)

    async def order(self, reference: str, quantity: int, product: str = upstream.A_PRODUCT, amount: Any = 10) -> str:
        body = {
            "amount": amount,
            "referenceId": reference,
            "quantity": quantity,
            "productId": product,
            "requiredInfoFromUser": [],
        }
        r = await self.http.post(f"{self.a_url}/api/b2b/order", json=body, headers=self.buyer.headers)
        assert r.status_code == 200, r.text
        return str(r.json()["data"]["id"])

    async def ended(self, order_id: str, within: float = 30) -> str:
        deadline = time.monotonic() + within
        while True:
            async with self.ra.reader() as uow:
                status = (await uow.conn.execute(sa.select(Order.status).where(Order.id == order_id))).scalar_one()
            if status not in ("pending", "processing"):
                return str(status)
            assert time.monotonic() < deadline, f"order {order_id} still {status} after {within}s"
            await asyncio.sleep(0.1)

    async def shown(self, order_id: str) -> dict[str, Any]:
        r = await self.http.get(f"{self.a_url}/api/b2b/order", params={"id": order_id}, headers=self.buyer.headers)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["data"]
        return data


A_SETTINGS = {
    "supplier_poll_seconds": 0.3,
    "supplier_poll_max_seconds": 2.0,
    "job_backoff_base_seconds": 0.1,
    "job_backoff_cap_seconds": 1.0,
    "worker_poll_interval_seconds": 0.1,
}


@pytest.fixture
def make_pair(db_url: str, tmp_path: Path, sqlite_template: Path) -> Callable[..., Any]:
    """`async with make_pair(plan=..., webhook=True, refresh=True, **a_settings) as pair`."""

    @asynccontextmanager
    async def make(
        *, plan: dict[tuple[str, str], list[upstream.Fault]] | None = None, webhook: bool = True, refresh: bool = True,
        **a_overrides: Any,
    ) -> AsyncIterator[Pair]:  # fmt: skip
        shutil.copyfile(sqlite_template, tmp_path / "b.db")
        sb = upstream.settings_for(f"sqlite:///{tmp_path}/b.db", tmp_path / "b", free_port())
        sa_ = upstream.settings_for(db_url, tmp_path / "a", free_port(), **{**A_SETTINGS, **a_overrides})
        async with AsyncExitStack() as stack:
            b_url = stack.enter_context(upstream.serve(sb, background=True))
            proxy = None
            if plan is not None:
                proxy = upstream.FaultProxy(b_url, plan).start()
                stack.callback(proxy.stop)
            a_url = stack.enter_context(upstream.serve(sa_, background=True))
            rb, ra = build_runtime(sb), build_runtime(sa_)
            stack.push_async_callback(rb.close)
            stack.push_async_callback(ra.close)
            b = await upstream.seed_b(rb, b_url, f"{a_url}/hooks/suppliers/{upstream.SUPPLIER}" if webhook else None)
            buyer = await upstream.seed_a(ra, proxy.url if proxy else b_url, b, refresh=refresh)
            pair = Pair(a_url, b_url, ra, rb, sa_, b, buyer, proxy)
            stack.push_async_callback(pair.http.aclose)
            yield pair

    return make
