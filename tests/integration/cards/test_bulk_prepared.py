"""Bulk issue's batches built ahead (`bulk.prepare`, the CLI builds the next one in a thread while
the last is written): a prepared batch commits as the run's next one only, and its cards are what
`issue_batch` makes itself (codes found by lookup, `ledger verify` passes). Both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from giftwell.services.cards import bulk, reads
from giftwell.services.ledger import verify
from giftwell.store.models import Card
from tests import factories


async def test_a_prepared_batch_commits_only_as_the_runs_next_one(rt):
    t = await factories.tenant(rt)
    async with rt.uow() as uow:
        run = await bulk.start(uow, account_id=t.account_id, count=5, amount=300, currency="EUR")
        issuance = await bulk.issuance_account(uow, run)
        await uow.commit()
    first = bulk.prepare(rt.keys, rt.clock(), run, issuance, size=3)
    stale = bulk.prepare(rt.keys, rt.clock(), run, issuance, size=3)
    async with rt.uow() as uow:
        run = await bulk.issue_batch(uow, run, prepared=first)
        await uow.commit()
    assert run.issued == 3
    async with rt.uow() as uow:
        with pytest.raises(ValueError):
            await bulk.issue_batch(uow, run, prepared=stale)  # built for the run at 0, not at 3
    following = bulk.prepare(rt.keys, rt.clock(), run, issuance, size=3)
    assert len(following.shown) == 2
    async with rt.uow() as uow:
        run = await bulk.issue_batch(uow, run, prepared=following)
        await uow.commit()
    assert (run.issued, run.finished) == (5, True)
    async with rt.uow() as uow:
        assert await uow.conn.scalar(sa.select(sa.func.count()).select_from(Card)) == 5
        for card_id, code in first.shown + following.shown:
            assert (await reads.lookup(uow, account_id=t.account_id, code=code)).id == card_id
        report = await verify.verify(uow)
    assert report.ok, report.problems
