"""The ledger's guards under concurrency, and expiry of holds and cards, through the services.

Each race runs its contenders in separate units of work. On PostgreSQL they really overlap: every
contender has its connection open and its transaction begun before any of them starts (a
barrier), so they all read the same starting state. On SQLite one connection serialises them,
which must give the same outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from giftwell.domain.cards import CardAction, CardStatus
from giftwell.domain.errors import CardBlocked, CardExpired, InsufficientFunds, InvalidState, ValidationFailed
from giftwell.domain.ledger import AccountKind, TransferKind, TransferStatus
from giftwell.services.cards import expiry, lifecycle
from giftwell.services.cards import money as card_money
from giftwell.services.cards import reads as cards
from giftwell.services.ledger import accounts as ledger_accounts
from giftwell.services.ledger import transfers, verify
from giftwell.services.runtime import Runtime
from giftwell.store.models import Event, LedgerAccount, Transfer
from giftwell.store.uow import UnitOfWork
from tests import factories

Op = Callable[[UnitOfWork], Awaitable[Any]]


async def run(rt: Runtime, op: Op) -> Any:
    async with rt.uow() as uow:
        result = await op(uow)
        await uow.commit()
        return result


async def race(rt: Runtime, *ops: Op) -> list[Any]:
    """Run each op in its own unit of work, concurrently; results or exceptions, in order."""
    overlap = rt.engine.dialect.name == "postgresql"
    barrier = asyncio.Barrier(len(ops)) if overlap else None

    async def one(op: Op) -> Any:
        async with rt.uow() as uow:
            if barrier is not None:
                await uow.conn.execute(sa.text("SELECT 1"))  # the transaction has begun
                await barrier.wait()
            result = await op(uow)
            await uow.commit()
            return result

    return list(await asyncio.gather(*(one(op) for op in ops), return_exceptions=True))


async def assert_ledger_ok(rt: Runtime) -> None:
    async with rt.uow() as uow:
        report = await verify.verify(uow)
    assert report.ok, report.problems


async def get_card(rt: Runtime, account_id: str, card_id: str):
    async with rt.uow() as uow:
        return await cards.get(uow, account_id=account_id, card_id=card_id)


async def get_transfer(rt: Runtime, account_id: str, transfer_id: str):
    async with rt.uow() as uow:
        return await transfers.get(uow, account_id=account_id, transfer_id=transfer_id)


def successes(results: list[Any]) -> list[Any]:
    return [r for r in results if not isinstance(r, BaseException)]


def failures(results: list[Any]) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException)]


async def test_concurrent_full_captures_of_one_hold_post_it_once(rt):
    t = await factories.tenant(rt)
    c = (await factories.card(rt, t.account_id, amount=5000)).card
    acct = t.account_id
    held = await run(rt, lambda u: card_money.redeem(u, account_id=acct, card_id=c.id, amount=1200, capture=False))
    assert held.card.balance == 5000
    assert held.card.available == 3800
    hid = held.transfer.id

    results = await race(rt, *[lambda u: card_money.capture(u, account_id=acct, transfer_id=hid)] * 3)

    won = successes(results)
    assert len(won) == 1, results
    assert all(isinstance(e, InvalidState) for e in failures(results)), results
    assert won[0].card.balance == 3800
    assert won[0].card.available == 3800
    after = await get_card(rt, acct, c.id)
    assert (after.balance, after.available) == (3800, 3800)
    tr = await get_transfer(rt, acct, hid)
    assert (tr.status, tr.amount, tr.hold_amount) == (TransferStatus.POSTED, 1200, 1200)
    await assert_ledger_ok(rt)


async def test_concurrent_partial_captures_and_a_void_resolve_the_hold_once(rt):
    t = await factories.tenant(rt)
    acct = t.account_id
    c = (await factories.card(rt, acct, currency="KWD", amount=10_000)).card
    held = await run(rt, lambda u: card_money.redeem(u, account_id=acct, card_id=c.id, amount=4000, capture=False))
    hid = held.transfer.id

    results = await race(
        rt,
        lambda u: card_money.capture(u, account_id=acct, transfer_id=hid, amount=1000),
        lambda u: card_money.capture(u, account_id=acct, transfer_id=hid, amount=2500),
        lambda u: card_money.void(u, account_id=acct, transfer_id=hid),
    )

    assert len(successes(results)) == 1, results
    assert all(isinstance(e, InvalidState) for e in failures(results)), results
    tr = await get_transfer(rt, acct, hid)
    after = await get_card(rt, acct, c.id)
    charged = {0: 1000, 1: 2500, 2: 0}[next(i for i, r in enumerate(results) if not isinstance(r, BaseException))]
    assert tr.status is (TransferStatus.VOIDED if charged == 0 else TransferStatus.POSTED)
    assert tr.amount == (4000 if charged == 0 else charged)
    # Whatever won, the rest of the hold is released: nothing stays reserved.
    assert (after.balance, after.available) == (10_000 - charged, 10_000 - charged)
    await assert_ledger_ok(rt)


async def test_concurrent_refunds_never_exceed_the_redemption(rt):
    t = await factories.tenant(rt)
    acct = t.account_id
    c = (await factories.card(rt, acct, amount=5000)).card
    red = await run(rt, lambda u: card_money.redeem(u, account_id=acct, card_id=c.id, amount=1000))
    rid = red.transfer.id
    assert red.card.balance == 4000

    results = await race(rt, *[lambda u: card_money.refund(u, account_id=acct, transfer_id=rid, amount=300)] * 5)

    assert len(successes(results)) == 3, results
    assert len(failures(results)) == 2
    assert all(isinstance(e, ValidationFailed) and e.param == "amount" for e in failures(results)), results
    original = await get_transfer(rt, acct, rid)
    assert original.refunded_amount == 900
    after = await get_card(rt, acct, c.id)
    assert after.balance == 4900

    # The last 100 is refundable; a "refund the rest" raced against another piece gives exactly 100 back.
    results = await race(
        rt,
        lambda u: card_money.refund(u, account_id=acct, transfer_id=rid),
        lambda u: card_money.refund(u, account_id=acct, transfer_id=rid, amount=100),
    )
    assert len(successes(results)) == 1, results
    assert (await get_transfer(rt, acct, rid)).refunded_amount == 1000
    assert (await get_card(rt, acct, c.id)).balance == 5000
    async with rt.uow() as uow:
        refunds = (
            await uow.conn.execute(
                sa.select(Transfer.amount).where(Transfer.refund_of == rid, Transfer.kind == "refund")
            )
        ).all()
    assert sorted(r.amount for r in refunds) == [100, 300, 300, 300]
    await assert_ledger_ok(rt)


async def test_concurrent_redemptions_never_overdraw_the_card(rt):
    t = await factories.tenant(rt)
    acct = t.account_id
    c = (await factories.card(rt, acct, currency="JPY", amount=1000)).card

    results = await race(
        rt,
        *[lambda u: card_money.redeem(u, account_id=acct, card_id=c.id, amount=300)] * 3,
        *[lambda u: card_money.redeem(u, account_id=acct, card_id=c.id, amount=300, capture=False)] * 2,
    )

    assert len(successes(results)) == 3, results
    assert all(isinstance(e, InsufficientFunds) for e in failures(results)), results
    after = await get_card(rt, acct, c.id)
    held = sum(r.transfer.amount for r in successes(results) if r.transfer.status is TransferStatus.PENDING)
    assert after.available == 100
    assert after.balance == 100 + held
    await assert_ledger_ok(rt)


async def test_opposite_transfers_between_two_cards_neither_deadlock_nor_lose_money(rt):
    t = await factories.tenant(rt)
    acct = t.account_id
    a = (await factories.card(rt, acct, amount=1000)).card
    b = (await factories.card(rt, acct, amount=1000)).card

    ops = []
    for _ in range(4):
        ops.append(lambda u: card_money.transfer(u, account_id=acct, card_id=a.id, to_card=b.id, amount=400))
        ops.append(lambda u: card_money.transfer(u, account_id=acct, card_id=b.id, to_card=a.id, amount=400))
    results = await race(rt, *ops)

    assert all(isinstance(e, InsufficientFunds) for e in failures(results)), results
    a2, b2 = await get_card(rt, acct, a.id), await get_card(rt, acct, b.id)
    assert a2.balance + b2.balance == 2000
    moved = sum(400 if r.card.id == a.id else -400 for r in successes(results))
    assert (a2.balance, b2.balance) == (1000 - moved, 1000 + moved)
    await assert_ledger_ok(rt)


async def test_a_redemption_racing_a_block_either_happens_before_it_or_is_refused(rt):
    t = await factories.tenant(rt)
    acct = t.account_id
    c = (await factories.card(rt, acct, amount=1000)).card

    results = await race(
        rt,
        lambda u: card_money.redeem(u, account_id=acct, card_id=c.id, amount=250),
        lambda u: lifecycle.change_status(u, account_id=acct, card_id=c.id, action=CardAction.BLOCK),
    )

    assert not isinstance(results[1], BaseException), results
    after = await get_card(rt, acct, c.id)
    assert after.status is CardStatus.BLOCKED
    if isinstance(results[0], BaseException):
        assert isinstance(results[0], CardBlocked), results
        assert after.balance == 1000
    else:
        assert after.balance == 750
    await assert_ledger_ok(rt)


async def test_an_expired_hold_cannot_be_captured_and_expire_holds_releases_it(rt, clock):
    t = await factories.tenant(rt)
    acct = t.account_id
    c = (await factories.card(rt, acct, amount=5000)).card
    held = await run(
        rt,
        lambda u: card_money.redeem(
            u, account_id=acct, card_id=c.id, amount=2000, capture=False, hold_ttl=timedelta(hours=1)
        ),
    )
    hid = held.transfer.id
    assert held.transfer.expires_at == clock.now + timedelta(hours=1)
    other = await run(rt, lambda u: card_money.redeem(u, account_id=acct, card_id=c.id, amount=500, capture=False))

    clock.advance(minutes=59)
    async with rt.uow() as uow:
        assert await expiry.expire_holds(uow) == 0

    clock.advance(minutes=1)  # exactly at the TTL the hold is over
    with pytest.raises(InvalidState, match="expired"):
        await run(rt, lambda u: card_money.capture(u, account_id=acct, transfer_id=hid))
    with pytest.raises(InvalidState, match="expired"):
        await run(rt, lambda u: card_money.capture(u, account_id=acct, transfer_id=hid, amount=10))
    still = await get_card(rt, acct, c.id)
    assert (still.balance, still.available) == (5000, 2500)

    assert await run(rt, expiry.expire_holds) == 1
    tr = await get_transfer(rt, acct, hid)
    assert (tr.status, tr.reason, tr.amount) == (TransferStatus.VOIDED, "expired", 2000)
    after = await get_card(rt, acct, c.id)
    assert (after.balance, after.available) == (5000, 4500)
    # The default-TTL hold is untouched; capturing the expired one keeps failing the same way.
    assert (await get_transfer(rt, acct, other.transfer.id)).status is TransferStatus.PENDING
    with pytest.raises(InvalidState, match="voided"):
        await run(rt, lambda u: card_money.capture(u, account_id=acct, transfer_id=hid))
    assert await run(rt, expiry.expire_holds) == 0
    async with rt.uow() as uow:
        types = (await uow.conn.execute(sa.select(Event.type).where(Event.subject_id == hid))).scalars().all()
    assert types == ["hold.expired"]
    await assert_ledger_ok(rt)


async def test_concurrent_hold_sweeps_void_each_hold_once(rt, clock):
    t = await factories.tenant(rt)
    acct = t.account_id
    c = (await factories.card(rt, acct, amount=5000)).card
    for amount in (100, 200, 300):
        await run(
            rt,
            lambda u, a=amount: card_money.redeem(
                u, account_id=acct, card_id=c.id, amount=a, capture=False, hold_ttl=timedelta(minutes=5)
            ),
        )
    clock.advance(minutes=5)

    results = await race(rt, expiry.expire_holds, expiry.expire_holds)

    # Both sweeps succeed (a hold the other one voided first is skipped) and each hold is voided once.
    assert not failures(results), results
    assert sum(results) == 3, results
    assert await run(rt, expiry.expire_holds) == 0
    async with rt.uow() as uow:
        n_events = (
            await uow.conn.execute(sa.select(sa.func.count()).select_from(Event).where(Event.type == "hold.expired"))
        ).scalar_one()
    assert n_events == 3
    after = await get_card(rt, acct, c.id)
    assert (after.balance, after.available) == (5000, 5000)
    await assert_ledger_ok(rt)


async def test_a_sweep_skips_a_hold_voided_by_a_caller_meanwhile(rt, clock):
    t = await factories.tenant(rt)
    acct = t.account_id
    c = (await factories.card(rt, acct, amount=5000)).card
    holds = [
        await run(
            rt,
            lambda u, a=amount: card_money.redeem(
                u, account_id=acct, card_id=c.id, amount=a, capture=False, hold_ttl=timedelta(minutes=5)
            ),
        )
        for amount in (100, 200)
    ]
    clock.advance(minutes=10)
    first = holds[0].transfer.id

    results = await race(rt, lambda u: card_money.void(u, account_id=acct, transfer_id=first), expiry.expire_holds)

    # The sweep never fails; the caller's void fails only if the sweep voided that hold first.
    caller, swept = results
    assert not isinstance(swept, BaseException), results
    if isinstance(caller, BaseException):
        assert isinstance(caller, InvalidState), results
        assert swept == 2
    else:
        assert caller.transfer.status is TransferStatus.VOIDED
        assert swept == 1
    reasons = {h.transfer.id: (await get_transfer(rt, acct, h.transfer.id)).reason for h in holds}
    assert reasons[holds[1].transfer.id] == "expired"
    assert reasons[first] == (None if swept == 1 else "expired")
    after = await get_card(rt, acct, c.id)
    assert (after.balance, after.available) == (5000, 5000)
    await assert_ledger_ok(rt)


async def test_card_expiry_and_hold_sweep_racing_over_the_same_holds_both_succeed(rt, clock):
    t = await factories.tenant(rt)
    acct = t.account_id
    c = (await factories.card(rt, acct, amount=5000, expires_at=clock.now + timedelta(days=1))).card
    for amount in (100, 200, 300):
        await run(
            rt,
            lambda u, a=amount: card_money.redeem(
                u, account_id=acct, card_id=c.id, amount=a, capture=False, hold_ttl=timedelta(hours=1)
            ),
        )
    clock.advance(days=2)

    results = await race(rt, expiry.expire_due, expiry.expire_holds)

    assert not failures(results), results
    assert results[0] == 1
    after = await get_card(rt, acct, c.id)
    assert (after.status, after.balance, after.available) == (CardStatus.EXPIRED, 0, 0)
    async with rt.uow() as uow:
        expired = (
            await uow.conn.execute(sa.select(Transfer.amount).where(Transfer.kind == TransferKind.EXPIRE.value))
        ).scalar_one()
        statuses = (
            await uow.conn.execute(sa.select(Transfer.status).where(Transfer.expires_at.is_not(None)))
        ).scalars()
        assert set(statuses) == {"voided"}
    assert expired == 5000
    await assert_ledger_ok(rt)


async def test_card_expiry_moves_the_remainder_to_breakage_and_voids_holds(rt, clock):
    t = await factories.tenant(rt)
    acct = t.account_id
    expires = clock.now + timedelta(days=10)
    c = (await factories.card(rt, acct, currency="KWD", amount=5000, expires_at=expires)).card
    empty = (await factories.card(rt, acct, currency="KWD", amount=0, expires_at=expires)).card
    keeps = (await factories.card(rt, acct, currency="KWD", amount=700)).card
    await run(rt, lambda u: card_money.redeem(u, account_id=acct, card_id=c.id, amount=1500))
    held = await run(rt, lambda u: card_money.redeem(u, account_id=acct, card_id=c.id, amount=1000, capture=False))

    clock.advance(days=10)
    # Past its date the card refuses money before the sweep runs.
    with pytest.raises(CardExpired):
        await run(rt, lambda u: card_money.redeem(u, account_id=acct, card_id=c.id, amount=1))
    with pytest.raises(CardExpired):
        await run(rt, lambda u: card_money.reload(u, account_id=acct, card_id=c.id, amount=1))

    assert await run(rt, expiry.expire_due) == 2

    after = await get_card(rt, acct, c.id)
    assert after.status is CardStatus.EXPIRED
    assert (after.balance, after.available) == (0, 0)
    assert (await get_card(rt, acct, empty.id)).status is CardStatus.EXPIRED
    assert (await get_card(rt, acct, keeps.id)).balance == 700
    hold = await get_transfer(rt, acct, held.transfer.id)
    assert (hold.status, hold.reason) == (TransferStatus.VOIDED, "card expired")

    async with rt.uow() as uow:
        expiries = (await uow.conn.execute(sa.select(Transfer).where(Transfer.kind == TransferKind.EXPIRE.value))).all()
        breakage = await ledger_accounts.system_account(uow, account_id=acct, kind=AccountKind.BREAKAGE, currency="KWD")
        kind = (await uow.conn.execute(sa.select(LedgerAccount.kind).where(LedgerAccount.id == breakage))).scalar_one()
        events = (await uow.conn.execute(sa.select(Event.data).where(Event.type == "card.expired"))).scalars().all()
    assert len(expiries) == 1, "an empty card expires without a transfer"
    e = expiries[0]
    assert (e.status, e.amount, e.currency, e.card_id) == ("posted", 3500, "KWD", c.id)
    assert (e.debit_account_id, e.credit_account_id) == (c.ledger_account_id, breakage)
    assert (e.debit_balance_after, e.credit_balance_after) == (0, None)
    assert kind == "breakage"
    assert sorted(d["breakage"] for d in events) == [0, 3500]

    # Expired is final: a second sweep does nothing, and the hold cannot be captured.
    assert await run(rt, expiry.expire_due) == 0
    with pytest.raises(InvalidState):
        await run(rt, lambda u: card_money.capture(u, account_id=acct, transfer_id=held.transfer.id))
    await assert_ledger_ok(rt)


async def test_concurrent_card_sweeps_expire_a_card_once(rt, clock):
    t = await factories.tenant(rt)
    acct = t.account_id
    c = (await factories.card(rt, acct, amount=900, expires_at=clock.now + timedelta(days=1))).card
    await run(rt, lambda u: card_money.redeem(u, account_id=acct, card_id=c.id, amount=100, capture=False))
    clock.advance(days=2)

    results = await race(rt, expiry.expire_due, expiry.expire_due, expiry.expire_due)

    assert not failures(results), results
    assert sorted(results) == [0, 0, 1]
    async with rt.uow() as uow:
        n = (
            await uow.conn.execute(
                sa.select(sa.func.count()).select_from(Transfer).where(Transfer.kind == TransferKind.EXPIRE.value)
            )
        ).scalar_one()
    assert n == 1
    after = await get_card(rt, acct, c.id)
    assert (after.status, after.balance, after.available) == (CardStatus.EXPIRED, 0, 0)
    await assert_ledger_ok(rt)


async def test_an_adjustment_beyond_a_blocked_cards_funds_is_refused_for_funds(rt):
    # Blocked cards take adjustments; one that would overdraw the card is a funds problem.
    t = await factories.tenant(rt)
    acct = t.account_id
    c = (await factories.card(rt, acct, amount=500)).card
    await run(rt, lambda u: card_money.redeem(u, account_id=acct, card_id=c.id, amount=200, capture=False))
    await run(rt, lambda u: lifecycle.change_status(u, account_id=acct, card_id=c.id, action=CardAction.BLOCK))

    with pytest.raises(InsufficientFunds) as exc:
        await run(rt, lambda u: card_money.adjust(u, account_id=acct, card_id=c.id, amount=-301, reason="chargeback"))
    assert exc.value.fields["available"] == 300
    m = await run(rt, lambda u: card_money.adjust(u, account_id=acct, card_id=c.id, amount=-300, reason="chargeback"))
    assert (m.card.balance, m.card.available, m.card.status) == (200, 0, CardStatus.BLOCKED)
    await assert_ledger_ok(rt)
