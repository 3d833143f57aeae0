"""A load of orders and redemptions over real HTTP against server processes sharing one
PostgreSQL (directly or through PgBouncer), with `giftwell worker` processes fulfilling the
background orders, and the checks that nothing was done twice.

Used by the multi-process serving test and the PgBouncer test.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import sqlalchemy as sa

from giftwell.store.models import Job, JobAttempt
from tests.factories import Tenant
from tests.workers import wait_for

FACE = 2000  # acme-usd: 20.00 USD a card (the order crash-recovery test's price table)
SPEND = 300
SPENDS_PER_CARD = 10  # 6 of them fit in a card: 4 must be refused as insufficient_funds


async def place_orders(
    urls: list[str], buyer: Tenant, *, sync_orders: int, async_orders: int, async_size: int, prefix: str
) -> tuple[dict[str, int], list[str]]:
    """Synchronous 1-card orders and background orders of `async_size` cards, spread over the
    servers, all at once. Returns {order id: cards} and the synchronous orders' ids."""
    clients = [httpx.AsyncClient(base_url=u, headers=buyer.headers, timeout=120) for u in urls]
    try:

        async def one(i: int, mode: str, quantity: int) -> dict[str, Any]:
            body = {
                "reference": f"{prefix}-{mode}-{i}",
                "mode": mode,
                "items": [{"product": "acme-usd", "amount": FACE, "quantity": quantity, "country": "US"}],
            }
            r = await clients[i % len(clients)].post("/v1/orders", json=body)
            assert r.status_code in (200, 201, 202), r.text
            return dict(r.json())

        made = await asyncio.gather(
            *[one(i, "sync", 1) for i in range(sync_orders)],
            *[one(sync_orders + i, "async", async_size) for i in range(async_orders)],
        )
    finally:
        for c in clients:
            await c.aclose()
    sync_ids = [o["id"] for o in made[:sync_orders]]
    assert all(o["status"] == "completed" for o in made[:sync_orders])
    sizes = {o["id"]: 1 for o in made[:sync_orders]}
    sizes.update({o["id"]: async_size for o in made[sync_orders:]})
    return sizes, sync_ids


async def redeem_all(urls: list[str], holder: Tenant, card_ids: list[str]) -> Counter[int]:
    """SPENDS_PER_CARD redemptions of each card at once, spread over the servers: exactly as many
    succeed as fit in the card, the rest are refused as insufficient_funds, never a 5xx."""
    clients = [
        httpx.AsyncClient(base_url=u, headers=holder.headers, timeout=120, limits=httpx.Limits(max_connections=16))
        for u in urls
    ]
    try:
        jobs = [(i, c) for i, c in enumerate(card_ids * SPENDS_PER_CARD)]

        async def one(i: int, card_id: str) -> int:
            r = await clients[i % len(clients)].post(f"/v1/cards/{card_id}/redeem", json={"amount": SPEND})
            if r.status_code == 422:
                assert r.json()["error"]["code"] == "insufficient_funds", r.text
            else:
                assert r.status_code in (200, 201), r.text
            return r.status_code

        statuses = Counter(await asyncio.gather(*[one(i, c) for i, c in jobs]))
    finally:
        for c in clients:
            await c.aclose()
    fit = FACE // SPEND
    assert statuses[422] == len(card_ids) * (SPENDS_PER_CARD - fit), statuses
    assert sum(statuses.values()) - statuses[422] == len(card_ids) * fit, statuses
    return statuses


async def issuer(rt: Any) -> Tenant:
    """The issuer of the orders' cards (the operator, whose house supplier makes them), with a
    token that may redeem them."""
    from giftwell.services.access import accounts, tokens

    async with rt.uow() as uow:
        acct = await accounts.operator_account(uow)
        tok = await tokens.create_token(uow, account_id=acct.id, scopes=["cards:read", "cards:redeem"])
        await uow.commit()
    return Tenant(acct.id, acct.name, tok.token)


async def cards_of(rt: Any, order_ids: list[str]) -> list[str]:
    async with rt.reader() as uow:
        rows = await uow.conn.scalars(
            sa.text("SELECT card_id FROM order_cards WHERE order_id = ANY(:ids) AND card_id IS NOT NULL"),
            {"ids": order_ids},
        )
        return list(rows.all())


async def assert_balances(rt: Any, card_ids: list[str], balance: int) -> None:
    async with rt.reader() as uow:
        rows = await uow.conn.execute(
            sa.text(
                "SELECT c.id, l.balance, l.pending_out FROM cards c JOIN ledger_accounts l ON l.id = c.ledger_account_id "
                "WHERE c.id = ANY(:ids)"
            ),
            {"ids": card_ids},
        )
        found = {r.id: (int(r.balance), int(r.pending_out)) for r in rows}
    assert found == dict.fromkeys(card_ids, (balance, 0))


async def wait_completed(rt: Any, count: int, procs: list[Any], within: float = 300) -> None:
    await wait_for(rt, "SELECT count(*) FROM orders WHERE status = 'completed'", count, within=within, procs=procs)
    await wait_for(
        rt,
        "SELECT count(*) FROM jobs WHERE kind = 'order.fulfil' AND state = 'done'",
        await _fulfil_jobs(rt),
        within=60,
        procs=procs,
    )


async def _fulfil_jobs(rt: Any) -> int:
    async with rt.reader() as uow:
        return int(await uow.conn.scalar(sa.text("SELECT count(*) FROM jobs WHERE kind = 'order.fulfil'")))


async def assert_each_job_once(rt: Any, kind: str = "order.fulfil") -> set[str]:
    """Every job of `kind` done in one attempt, by one worker: no job claimed twice. Returns
    the workers that ran them."""
    async with rt.reader() as uow:
        jobs = (await uow.conn.execute(sa.select(Job).where(Job.kind == kind))).all()
        ids = [j.id for j in jobs]
        attempts = (await uow.conn.execute(sa.select(JobAttempt).where(JobAttempt.job_id.in_(ids)))).all()
    assert jobs
    assert {(j.state, j.attempts) for j in jobs} == {("done", 1)}
    per_job = Counter(a.job_id for a in attempts)
    assert set(per_job.values()) == {1}
    assert set(per_job) == set(ids)
    assert {a.outcome for a in attempts} == {"done"}
    return {a.worker for a in attempts}
