"""A's tokens at B: B's refresh token rotates while two of A's workers race for a token (exactly one
refresh reaches B, and B's token family stays alive); a 401 after a refresh pauses the supplier
with an event, and an operator resumes it; client credentials alone work too. Both databases."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from giftwell.app import build_runtime
from giftwell.domain.suppliers import SupplierPaused
from giftwell.services.access import clients
from giftwell.services.catalog.upstream import config, tokens
from giftwell.settings import Settings
from giftwell.store.models import Event, Job, RefreshToken, Supplier
from tests.upstream import SUPPLIER, Fault

TOKEN = ("POST", "/api/b2b/oauth/token")


async def supplier_row(rt):
    async with rt.reader() as uow:
        return (await uow.conn.execute(sa.select(Supplier).where(Supplier.name == SUPPLIER))).one()


async def b_refresh_tokens(pair) -> list:
    async with pair.rb.reader() as uow:
        q = sa.select(RefreshToken).where(RefreshToken.client_id == pair.b["client_id"])
        return list((await uow.conn.execute(q)).all())


async def test_two_workers_race_for_a_token_and_one_refresh_reaches_b(make_pair):
    # B's token endpoint answers slowly, so both of A's workers are waiting at the same time.
    async with make_pair(plan={TOKEN: [Fault(forward=True, delay=1.0)] * 2}) as pair:
        sid = (await supplier_row(pair.ra)).id
        other_worker = build_runtime(pair.sa)  # another process's engine and connection
        try:
            first, second = await asyncio.gather(tokens.session(pair.ra, sid), tokens.session(other_worker, sid))
        finally:
            await other_worker.close()
        assert pair.proxy.count(*TOKEN) == 1
        assert first.access_token == second.access_token
        # B rotated: A holds the one live refresh token of the family, nothing was revoked.
        rows = await b_refresh_tokens(pair)
        live = [r for r in rows if r.used_at is None and r.revoked_at is None]
        assert len(rows) == 2
        assert len(live) == 1
        assert not [r for r in rows if r.revoked_at is not None]
        stored = await supplier_row(pair.ra)
        async with pair.ra.reader() as uow:
            ours = config.unseal(uow, stored.id, config.REFRESH_TOKEN, stored.refresh_token_enc)
        assert pair.rb.keys.token_hash(ours) == live[0].token_hash
        assert ours != pair.b["refresh_token"]
        assert stored.token_version == 1

        # Seen as refused by both (a 401 on the same token version): again one refresh between them.
        racing = await asyncio.gather(*[tokens.session(pair.ra, sid, stale=1) for _ in range(3)])
        assert len({s.access_token for s in racing}) == 1
        assert pair.proxy.count(*TOKEN) == 2
        products = await tokens.call(pair.ra, sid, lambda api, token: api.products(token))
        assert [p.id for p in products] == ["acme-usd"]


async def test_a_401_after_a_refresh_pauses_the_supplier_until_an_operator_acts(make_pair):
    products = ("GET", "/api/b2b/products")
    async with make_pair(plan={products: [Fault(401), Fault(401)]}) as pair:
        sid = (await supplier_row(pair.ra)).id
        with pytest.raises(SupplierPaused, match="401 after a token refresh"):
            await tokens.call(pair.ra, sid, lambda api, token: api.products(token))
        assert pair.proxy.count(*TOKEN) == 2  # the first token, then the one refresh
        row = await supplier_row(pair.ra)
        assert (row.status, row.paused_reason.startswith("401 after a token refresh")) == ("paused", True)
        async with pair.ra.reader() as uow:
            events = (
                await uow.conn.execute(sa.select(Event.type, Event.data).where(Event.type.like("supplier.%")))
            ).all()
        assert [(e.type, e.data["supplier"]) for e in events] == [("supplier.paused", SUPPLIER)]

        # Paused: an order waits (its job retries later) and nothing is sent to B.
        calls = sum(pair.proxy.seen.values())
        order_id = await pair.order("po-paused", 1)
        await asyncio.sleep(1.0)
        async with pair.ra.reader() as uow:
            job = (await uow.conn.execute(sa.select(Job).where(Job.kind == "supplier.order"))).one()
        assert "paused" in (job.last_error or ""), job
        assert sum(pair.proxy.seen.values()) == calls

        # The operator resumes it; the next attempt (made due now here) goes through.
        async with pair.ra.uow() as uow:
            await config.update_supplier(uow, name=SUPPLIER, resume=True)
            await uow.conn.execute(sa.update(Job).where(Job.id == job.id).values(run_at=uow.now))
            await uow.commit()
        assert await pair.ended(order_id) == "completed"


async def test_revoked_upstream_client_pauses_and_client_credentials_work(make_pair):
    async with make_pair(refresh=False) as pair:
        order_id = await pair.order("po-cc", 2)
        assert await pair.ended(order_id) == "completed"
        row = await supplier_row(pair.ra)
        assert row.refresh_token_enc is None  # the client-credentials grant only
        # B revokes A's client: the cached token dies, the new grant is refused, A pauses.
        async with pair.rb.uow() as uow:
            await clients.revoke_client(uow, account_id=pair.b["account_id"], client_id=pair.b["client_id"])
            await uow.commit()
        # Revoked here, in another process than B's server: B trusts a token it verified for up
        # to `token_cache_seconds` (docs/access.md), so wait that out.
        await asyncio.sleep(Settings.model_fields["token_cache_seconds"].default + 0.5)
        with pytest.raises(SupplierPaused, match="refused"):
            await tokens.call(pair.ra, row.id, lambda api, token: api.products(token))
        assert (await supplier_row(pair.ra)).status == "paused"
