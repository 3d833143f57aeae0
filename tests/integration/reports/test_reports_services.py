"""The reports against the ledger, on both databases: liability equals the sum of card balances
at several instants of a random workload (every kind of movement, holds, expiry, test cards);
breakage from a fixed history equals the table computed by hand; expiring soon finds the right
cards; the charts' days add up."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from giftwell.domain.cards import CardAction
from giftwell.domain.errors import GiftwellError, ValidationFailed
from giftwell.services.cards import expiry, lifecycle
from giftwell.services.cards import money as card_money
from giftwell.services.cards import reads as cards
from giftwell.services.ledger import verify
from giftwell.services.reports import breakage, expiring, liability, timeline
from giftwell.services.runtime import Runtime
from tests import factories
from tests.conftest import FakeClock

CURRENCIES = ("EUR", "JPY")


async def _balances(rt: Runtime, account_id: str, ids: list[str]) -> dict[str, tuple[int, int]]:
    """Sum of card balances per currency, and how many hold value, read card by card."""
    out: dict[str, tuple[int, int]] = {}
    async with rt.uow() as uow:
        for card_id in ids:
            c = await cards.get(uow, account_id=account_id, card_id=card_id)
            if c.test:
                continue
            amount, n = out.get(c.currency, (0, 0))
            out[c.currency] = (amount + c.balance, n + (c.balance > 0))
    return {k: v for k, v in out.items() if v != (0, 0)}


async def _liability(rt: Runtime, account_id: str, at: datetime | None) -> dict[str, tuple[int, int]]:
    async with rt.reader() as uow:
        found = await liability.liability(uow, account_id=account_id, as_of=at)
    return {o.currency: (o.amount, o.cards) for o in found.data}


async def test_liability_equals_the_sum_of_card_balances_at_every_instant(rt: Runtime, clock: FakeClock):
    rng = random.Random(1606)
    t = await factories.tenant(rt)
    other = await factories.tenant(rt)
    await factories.card(rt, other.account_id, amount=777)  # another account's value: never counted
    ids: list[str] = []
    holds: list[tuple[str, str]] = []
    redemptions: list[str] = []
    snapshots: list[tuple[datetime, dict[str, tuple[int, int]]]] = []

    async def step() -> None:
        op = rng.choice(["issue", "issue", "reload", "redeem", "hold", "settle", "refund", "adjust", "move", "block"])
        if op == "issue" or not ids:
            expires = clock.now + timedelta(minutes=rng.randint(5, 200)) if rng.random() < 0.3 else None
            issued = await factories.card(
                rt,
                t.account_id,
                currency=rng.choice(CURRENCIES),
                amount=rng.choice([0, 500, 1200, 5000]),
                expires_at=expires,
                test=rng.random() < 0.15,
            )
            ids.append(issued.card.id)
            return
        async with rt.uow() as uow:
            card_id = rng.choice(ids)
            try:
                if op == "reload":
                    await card_money.reload(uow, account_id=t.account_id, card_id=card_id, amount=rng.randint(1, 900))
                elif op in ("redeem", "hold"):
                    m = await card_money.redeem(
                        uow,
                        account_id=t.account_id,
                        card_id=card_id,
                        amount=rng.randint(1, 700),
                        capture=op == "redeem",
                    )
                    (redemptions.append(m.transfer.id) if op == "redeem" else holds.append((card_id, m.transfer.id)))
                elif op == "settle" and holds:
                    _, trf = holds.pop(rng.randrange(len(holds)))
                    if rng.random() < 0.6:
                        await card_money.capture(uow, account_id=t.account_id, transfer_id=trf, amount=None)
                    else:
                        await card_money.void(uow, account_id=t.account_id, transfer_id=trf)
                elif op == "refund" and redemptions:
                    await card_money.refund(uow, account_id=t.account_id, transfer_id=rng.choice(redemptions))
                elif op == "adjust":
                    await card_money.adjust(
                        uow, account_id=t.account_id, card_id=card_id, amount=rng.choice([-150, 300]), reason="count"
                    )
                elif op == "move":
                    await card_money.transfer(
                        uow,
                        account_id=t.account_id,
                        card_id=card_id,
                        to_card=rng.choice(ids),
                        amount=rng.randint(1, 400),
                    )
                elif op == "block":
                    await lifecycle.change_status(
                        uow, account_id=t.account_id, card_id=card_id, action=CardAction.BLOCK, reason=None
                    )
            except GiftwellError:
                return  # refused (funds, state, currency): nothing changed
            await uow.commit()

    for i in range(90):
        await step()
        if i % 10 == 9:
            async with rt.uow() as uow:  # the sweep: due cards expire, their value goes to breakage
                await expiry.expire_due(uow)
                await expiry.expire_holds(uow)
                await uow.commit()
        clock.advance(minutes=3)
        snapshots.append((clock.now, await _balances(rt, t.account_id, ids)))
        clock.advance(minutes=3)

    async with rt.uow() as uow:
        assert (await verify.verify(uow)).ok
    assert any(v for _, v in snapshots)
    for at, expected in snapshots[::7] + snapshots[-3:]:
        assert await _liability(rt, t.account_id, at) == expected, at
    assert await _liability(rt, t.account_id, None) == snapshots[-1][1]
    assert await _liability(rt, t.account_id, snapshots[0][0] - timedelta(days=1)) == {}


async def test_breakage_from_a_fixed_history_equals_the_hand_computed_table(rt: Runtime, clock: FakeClock):
    t = await factories.tenant(rt)
    clock.now = datetime(2026, 1, 10, 12, tzinfo=UTC)
    a = (await factories.card(rt, t.account_id, amount=6000)).card.id
    b = (await factories.card(rt, t.account_id, amount=4000, expires_at=datetime(2026, 4, 1, tzinfo=UTC))).card.id
    dormant = (await factories.card(rt, t.account_id, amount=2500)).card.id  # never used again
    await factories.card(rt, t.account_id, amount=9999, test=True)  # test cards: nobody's value

    async def redeem(card_id: str, amount: int) -> str:
        async with rt.uow() as uow:
            m = await card_money.redeem(uow, account_id=t.account_id, card_id=card_id, amount=amount)
            await uow.commit()
        return m.transfer.id

    await redeem(a, 3000)
    clock.now = datetime(2026, 2, 3, tzinfo=UTC)
    r = await redeem(b, 2000)
    await redeem(a, 3000)
    async with rt.uow() as uow:
        await card_money.refund(uow, account_id=t.account_id, transfer_id=r, amount=500)
        await uow.commit()
    clock.now = datetime(2026, 3, 15, tzinfo=UTC)
    c = (await factories.card(rt, t.account_id, amount=5000)).card.id
    await redeem(c, 1500)
    clock.now = datetime(2026, 4, 2, tzinfo=UTC)  # b is due: the sweep expires its 2500 left
    async with rt.uow() as uow:
        assert await expiry.expire_due(uow) == 1
        await uow.commit()
    await redeem(c, 3000)

    clock.now = datetime(2026, 4, 30, tzinfo=UTC)
    async with rt.reader() as uow:
        report = await breakage.breakage(uow, account_id=t.account_id, rate="0.1", dormant_after_days=60)
    (eur,) = report.data
    # Non-dormant cards a, b, c (the 2500 card has not moved for 60 days: held apart).
    # Jan: I=10000, E=1000, X=9000, R=3000 -> 333; Feb: R=3000+3000+2000-500=7500 -> 833;
    # Mar: I=15000, E=1500, X=13500, R=9000 -> 1000. Apr: R=12000 -> floor(1500*12000/13500) = 1333.
    rows = [(m.month, m.issued, m.redeemed, m.expired, m.recognized, m.cumulative) for m in eur.schedule.rows]
    assert rows == [
        ("2026-01", 10000, 3000, 0, 333, 333),
        ("2026-02", 0, 4500, 0, 500, 833),
        ("2026-03", 5000, 1500, 0, 167, 1000),
        ("2026-04", 0, 3000, 2500, 333, 1333),
    ]
    assert (eur.dormant.amount, eur.dormant.cards) == (2500, 1)
    assert (eur.schedule.expected_breakage, eur.schedule.recognized, eur.schedule.expired) == (1500, 1333, 2500)

    # Before the dormant card went quiet long enough, it is part of the estimate.
    async with rt.reader() as uow:
        earlier = await breakage.breakage(
            uow, account_id=t.account_id, rate="0.1", dormant_after_days=60, as_of=datetime(2026, 2, 28, tzinfo=UTC)
        )
    assert earlier.data[0].dormant.cards == 0
    assert earlier.data[0].schedule.issued == 12500
    with pytest.raises(ValidationFailed) as err:
        async with rt.reader() as uow:
            await breakage.breakage(uow, account_id=t.account_id, rate=0.1)
    assert err.value.param == "rate"
    assert dormant


async def test_expiring_soon_and_the_daily_series(rt: Runtime, clock: FakeClock):
    t = await factories.tenant(rt)
    now = clock.now
    soon = (await factories.card(rt, t.account_id, amount=1000, expires_at=now + timedelta(days=3))).card.id
    later = (
        await factories.card(rt, t.account_id, currency="JPY", amount=700, expires_at=now + timedelta(days=20))
    ).card.id
    await factories.card(rt, t.account_id, amount=1000, expires_at=now + timedelta(days=45))  # outside 30 days
    await factories.card(rt, t.account_id, amount=0, expires_at=now + timedelta(days=2))  # no value
    await factories.card(rt, t.account_id, amount=900, expires_at=now + timedelta(days=2), test=True)
    async with rt.reader() as uow:
        found = await expiring.expiring(uow, account_id=t.account_id, days=30)
        first = await expiring.expiring(uow, account_id=t.account_id, days=30, limit=1)
        rest = await expiring.expiring(uow, account_id=t.account_id, days=30, limit=1, cursor=first.page.next_cursor)
    assert [c.id for c in found.page.data] == [soon, later]
    assert [(o.currency, o.amount, o.cards) for o in found.totals] == [("EUR", 1000, 1), ("JPY", 700, 1)]
    assert [c.id for c in first.page.data + rest.page.data] == [soon, later]
    assert [c.id async for c in expiring.export_expiring(rt, account_id=t.account_id, days=30)] == [soon, later]

    clock.advance(days=1)
    async with rt.uow() as uow:
        await card_money.redeem(uow, account_id=t.account_id, card_id=soon, amount=400)
        await uow.commit()
    async with rt.reader() as uow:
        series = await timeline.timeline(uow, account_id=t.account_id, days=7)
    eur = next(s for s in series if s.currency == "EUR")
    # 1000 + 1000 + 0 on EUR cards (the 900 test card left out), then 400 redeemed today.
    assert [d.liability for d in eur.days] == [0, 0, 0, 0, 0, 2000, 1600]
    assert [d.redeemed for d in eur.days] == [0, 0, 0, 0, 0, 0, 400]
