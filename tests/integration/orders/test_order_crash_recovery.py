"""Crash recovery of order fulfilment with real `giftwell worker` processes.

A worker is SIGKILLed while it is issuing a 500-card order (some batches committed, one in
flight); a worker started afterwards takes the job over once its lease runs out and finishes it.
The order ends with exactly its cards, each issued once and charged once, the funding account
moves by exactly their price, and `giftwell ledger verify` passes. On PostgreSQL, two workers
race for several orders' jobs while one of them is killed and restarted."""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from giftwell.domain.orders import Mode
from giftwell.services.orders import placing
from giftwell.services.orders.placing import ItemRequest, OrderRequest
from giftwell.store.models import Card, Job, JobAttempt, Order, OrderCard, Transfer
from tests import factories
from tests.servers import cli, giftwell_env
from tests.workers import scalar, start_worker, stop, wait_for, wait_started

pytestmark = pytest.mark.slow

PRICE = 1950  # acme-usd at 2000 face value, less 2.5%
START = 3_000_000
ISSUED = "SELECT count(*) FROM order_cards WHERE status = 'issued'"
COMPLETED = "SELECT count(*) FROM orders WHERE status = 'completed'"
# Long enough that a busy machine never misses a heartbeat (which would hand a live worker's
# job to another); short enough that a dead worker's job is taken over quickly.
LEASE = 4.0


async def place(rt, t, quantity: int, reference: str) -> str:
    req = OrderRequest(reference, [ItemRequest("acme-usd", 2000, quantity)], mode=Mode.ASYNC)
    async with rt.uow() as uow:
        view = await placing.place_order(uow, account_id=t.account_id, req=req)
        await uow.commit()
    assert view.status == "pending"
    return view.id


async def assert_issued_once_and_charged_once(rt, t, order_ids: dict[str, int]) -> None:
    """Every order completed with exactly its cards; each card made once (per unit, per supply
    key) and paid once; the funding account down by exactly the issued cards' price, to the cent."""
    total = sum(order_ids.values())
    async with rt.uow() as uow:
        c = uow.conn
        for order_id, n in order_ids.items():
            order = (await c.execute(sa.select(Order).where(Order.id == order_id))).one()
            assert (order.status, order.charged, order.refunded) == ("completed", n * PRICE, 0)
            units = (await c.execute(sa.select(OrderCard).where(OrderCard.order_id == order_id))).all()
            assert len(units) == n
            assert {u.status for u in units} == {"issued"}
            assert len({u.card_id for u in units}) == n
            assert len({u.supply_key for u in units}) == n
            # charged once: every unit names the capture that paid for it, and each capture is
            # exactly the sum of its units' prices
            by_charge = Counter()
            for u in units:
                assert u.charge_transfer_id is not None
                by_charge[u.charge_transfer_id] += int(u.price)
            charges = (
                await c.execute(
                    sa.select(Transfer.id, Transfer.amount, Transfer.status, Transfer.debit_account_id).where(
                        Transfer.kind == "charge", Transfer.reference == order_id
                    )
                )
            ).all()
            assert {x.status for x in charges} == {"posted"}  # the hold itself posted its remainder
            assert {x.debit_account_id for x in charges} == {order.funding_account_id}
            assert {x.id: int(x.amount) for x in charges} == dict(by_charge)
        # No card outside these orders' units, and no unit's card made twice: each card's
        # metadata names its unit, and every unit appears exactly once.
        made = (await c.execute(sa.select(Card.id, Card.metadata_.label("meta")))).all()
        assert len(made) == total
        per_unit = Counter(m.meta["order_card"] for m in made)
        assert set(per_unit.values()) == {1}
        linked = set((await c.scalars(sa.select(OrderCard.card_id).where(OrderCard.card_id.is_not(None)))).all())
        assert linked == {m.id for m in made}
        fund = (
            await c.execute(
                sa.text("SELECT balance, pending_out FROM ledger_accounts WHERE account_id = :a AND kind = 'funding'"),
                {"a": t.account_id},
            )
        ).one()
        assert (fund.balance, fund.pending_out) == (START - total * PRICE, 0)


def ledger_verify(settings) -> None:
    code, doc = cli(
        giftwell_env(settings.resolved_database_url, settings.data_dir, settings.secret_key.get_secret_value()),
        "ledger",
        "verify",
        check=False,
    )
    assert (code, doc["ok"], doc["problems"]) == (0, True, [])


async def held_by(rt, pid: int) -> list[str]:
    """The jobs a worker process holds (its id embeds its pid)."""
    async with rt.reader() as uow:
        rows = await uow.conn.scalars(sa.select(Job.id).where(Job.state == "running", Job.locked_by.like(f"%:{pid}:%")))
        return list(rows.all())


async def test_a_worker_killed_mid_order_is_taken_over_and_every_card_is_issued_and_paid_once(
    real_rt, settings, tmp_path
):
    rt = real_rt
    t = await factories.buyer(rt, funds=START)
    order_id = await place(rt, t, 500, "crash-500")
    first = start_worker(settings, tmp_path, "first", lease=LEASE)
    try:
        # at least one batch of 100 committed, the next one in flight
        await wait_for(rt, ISSUED, 1, within=120, procs=[first])
        assert await held_by(rt, first.pid)
    finally:
        stop(first, signal.SIGKILL)
    issued = await scalar(rt, ISSUED)
    assert 0 < issued < 500, "the worker was not killed in the middle of the order"
    # a batch is one transaction: the one in flight left nothing behind
    assert issued % 100 == 0
    assert await scalar(rt, "SELECT count(*) FROM cards") == issued
    assert await scalar(rt, "SELECT charged FROM orders") == issued * PRICE

    second = start_worker(settings, tmp_path, "second", lease=LEASE)
    try:
        await wait_for(rt, COMPLETED, 1, within=180, procs=[second])
        await wait_for(rt, "SELECT count(*) FROM jobs WHERE state = 'done'", 1, within=30, procs=[second])
    finally:
        assert stop(second) == 0
    await assert_issued_once_and_charged_once(rt, t, {order_id: 500})
    async with rt.uow() as uow:
        job = (await uow.conn.execute(sa.select(Job.state, Job.attempts).where(Job.kind == "order.fulfil"))).one()
    # the killed worker's attempt, then the one that finished it
    assert tuple(job) == ("done", 2)
    ledger_verify(settings)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_two_workers_racing_for_order_jobs_with_one_killed_issue_each_card_once(real_rt, settings, tmp_path):
    rt = real_rt
    t = await factories.buyer(rt, funds=START)
    names = ["a", "b"]
    # Two jobs at most each, for four orders: both workers must take part.
    workers = {n: start_worker(settings, tmp_path, n, concurrency=2, log_level="info", lease=LEASE) for n in names}
    await wait_started(tmp_path, names, list(workers.values()))
    sizes = {"big": 500, "m1": 200, "m2": 200, "m3": 200}
    order_ids = {await place(rt, t, n, ref): n for ref, n in sizes.items()}
    total = sum(sizes.values())
    try:
        # Both workers holding order jobs at once ...
        deadline = time.monotonic() + 60
        while not all([await held_by(rt, p.pid) for p in workers.values()]):
            assert time.monotonic() < deadline, "the two workers never held jobs at the same time"
            assert all(p.poll() is None for p in workers.values())
            await asyncio.sleep(0.02)
        # ... then the one holding the 500-card order's job is killed mid-order.
        await wait_for(rt, ISSUED, 150, within=180, procs=list(workers.values()))
        big = next(i for i, n in order_ids.items() if n == 500)
        async with rt.reader() as uow:
            holder = await uow.conn.scalar(sa.select(Job.locked_by).where(Job.dedupe_key == f"order.fulfil:{big}"))
        assert holder is not None, "nobody holds the 500-card order's job"
        victim = next(n for n, p in workers.items() if f":{p.pid}:" in holder)
        killed_jobs = await held_by(rt, workers[victim].pid)
        stop(workers[victim], signal.SIGKILL)
        killed_at = datetime.now(UTC)
        assert await scalar(rt, ISSUED) < total, "every order was done before the kill"
        workers[victim] = start_worker(settings, tmp_path, f"{victim}2", concurrency=2, lease=LEASE)
        await wait_for(rt, COMPLETED, len(sizes), within=300, procs=list(workers.values()))
        await wait_for(rt, "SELECT count(*) FROM jobs WHERE state = 'done'", len(sizes), within=30)
    finally:
        codes = [stop(p) for p in workers.values()]
    assert codes[names.index(victim) ^ 1] == 0
    await assert_issued_once_and_charged_once(rt, t, order_ids)

    # No job ran twice at once: no attempt finished after losing its lease ("stale"), the
    # recorded attempts of each job do not overlap, and the killed worker's jobs were only
    # taken over after it died.
    async with rt.uow() as uow:
        attempts = (await uow.conn.execute(sa.select(JobAttempt))).all()
        jobs = {r.id: r for r in (await uow.conn.execute(sa.select(Job))).all()}
    assert {a.outcome for a in attempts} <= {"done", "retry"}
    assert {j.state for j in jobs.values()} == {"done"}
    by_job: dict[str, list] = {}
    for a in attempts:
        by_job.setdefault(a.job_id, []).append(a)
    for job_id, runs in by_job.items():
        runs.sort(key=lambda a: a.attempt)
        for before, after in itertools.pairwise(runs):
            assert before.finished_at <= after.started_at, f"job {job_id} ran twice at once"
        if job_id in killed_jobs:
            assert all(_utc(a.started_at) >= killed_at for a in runs), f"job {job_id} taken over while its worker lived"
    assert killed_jobs, "the killed worker held no job"
    assert all(jobs[j].attempts >= 2 for j in killed_jobs)
    ledger_verify(settings)


def _utc(d: datetime) -> datetime:
    return d if d.tzinfo else d.replace(tzinfo=UTC)
