"""A redemption on PostgreSQL is one statement (services/cards/redeem_fast.py) on its happy path,
with the same result as the general path: the transfer, the event, its webhook deliveries, the
balances `ledger verify` checks; every refusal still says why. On SQLite the redemption runs on the
raw `sqlite3` connection in one thread hop (services/cards/redeem_sqlite.py): nothing goes through
SQLAlchemy, which these tests see (they fail if it falls back to the general path)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from giftwell.app import build_runtime
from giftwell.domain.cards import CardAction
from giftwell.domain.errors import CardBlocked, CardExpired, InsufficientFunds, NotFound, TestCardRefused
from giftwell.services.cards import lifecycle
from giftwell.services.cards import money as card_money
from giftwell.services.ledger import verify
from giftwell.services.runtime import Runtime
from giftwell.store.models import Event, Transfer, WebhookDelivery
from tests import factories


@contextmanager
def statements(rt: Runtime) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    sa.event.listen(rt.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(rt.engine.sync_engine, "before_cursor_execute", record)


async def redeem(rt: Runtime, account_id: str, card_id: str, amount: int) -> card_money.Movement:
    async with rt.uow() as uow:
        m = await card_money.redeem(uow, account_id=account_id, card_id=card_id, amount=amount, reference="r-1")
        await uow.commit()
    return m


async def count(rt: Runtime, model: type, **where: str) -> int:
    async with rt.reader() as uow:
        conds = [getattr(model, k) == v for k, v in where.items()]
        return int((await uow.conn.execute(sa.select(sa.func.count()).select_from(model).where(*conds))).scalar_one())


async def test_redeem_same_result_in_fewer_statements(rt: Runtime) -> None:
    t = await factories.tenant(rt)
    card = (await factories.card(rt, t.account_id, amount=1000)).card
    await factories.webhook_endpoint(rt, t.account_id, "https://hooks.example/a", events=["card.redeemed"])
    await redeem(rt, t.account_id, card.id, 100)  # the first makes the issuer's redemption account
    with statements(rt) as seen:
        m = await redeem(rt, t.account_id, card.id, 250)
    assert (m.card.balance, m.card.available) == (650, 650)
    assert (m.transfer.amount, m.transfer.debit_balance_after, m.transfer.reference) == (250, 650, "r-1")
    assert m.card.code_last4 == card.code_last4
    async with rt.reader() as uow:
        row = (await uow.conn.execute(sa.select(Transfer).where(Transfer.id == m.transfer.id))).one()
        ev = (await uow.conn.execute(sa.select(Event).where(Event.data["transfer"].as_string() == m.transfer.id))).one()
    assert (row.kind, row.status, row.amount, row.credit_account_id) == (
        "redeem",
        "posted",
        250,
        m.transfer.credit_account_id,
    )
    assert (row.debit_balance_after, row.created_at) == (650, m.transfer.created_at)
    assert ev.type == "card.redeemed"
    assert ev.data == {"card": card.id, "transfer": m.transfer.id, "amount": 250, "currency": "EUR", "status": "posted"}
    assert await count(rt, WebhookDelivery, event_id=ev.id) == 1
    # The webhook delivery and its job add their own statements (an endpoint is subscribed).
    writes = [s for s in seen if not s.lstrip().upper().startswith(("BEGIN", "COMMIT"))]
    if rt.engine.dialect.name == "postgresql":
        assert writes[0].lstrip().startswith("WITH c AS")
        assert len([s for s in writes if "webhook_deliveries" not in s and "jobs" not in s]) == 1
    else:  # the card, transfer and event on the raw connection; only the delivery through SQLAlchemy
        assert [s for s in writes if "webhook_deliveries" not in s and "jobs" not in s] == []
        assert writes
    async with rt.reader() as uow:
        assert (await verify.verify(uow)).ok


async def test_one_statement_without_webhooks(rt: Runtime) -> None:
    t = await factories.tenant(rt)
    card = (await factories.card(rt, t.account_id, amount=1000)).card
    await redeem(rt, t.account_id, card.id, 1)
    with statements(rt) as seen:
        await redeem(rt, t.account_id, card.id, 1)
    if rt.engine.dialect.name == "postgresql":
        assert len(seen) == 1
    else:  # BEGIN IMMEDIATE and COMMIT through SQLAlchemy; the redemption on the raw connection
        assert [s for s in seen if s.strip().upper() not in ("BEGIN IMMEDIATE", "COMMIT")] == []


async def test_refusals_still_say_why(rt: Runtime, clock) -> None:
    t, other = await factories.tenant(rt), await factories.tenant(rt)
    card = (await factories.card(rt, t.account_id, amount=100)).card
    await redeem(rt, t.account_id, card.id, 1)
    with pytest.raises(InsufficientFunds):
        await redeem(rt, t.account_id, card.id, 100)
    with pytest.raises(NotFound):
        await redeem(rt, other.account_id, card.id, 1)
    async with rt.uow() as uow:
        await lifecycle.change_status(
            uow, account_id=t.account_id, card_id=card.id, action=CardAction.BLOCK, reason="lost"
        )
        await uow.commit()
    with pytest.raises(CardBlocked):
        await redeem(rt, t.account_id, card.id, 1)
    soon = (await factories.card(rt, t.account_id, amount=100, expires_at=clock() + timedelta(days=1))).card
    await redeem(rt, t.account_id, soon.id, 1)
    clock.advance(days=2)
    with pytest.raises(CardExpired):
        await redeem(rt, t.account_id, soon.id, 1)
    test_card = (await factories.card(rt, t.account_id, amount=100, test=True)).card
    with pytest.raises(TestCardRefused):
        await redeem(rt, t.account_id, test_card.id, 1)
    async with rt.reader() as uow:
        assert (await verify.verify(uow)).ok


async def test_alone_commits_on_its_own_unless_webhooks_need_a_transaction(rt: Runtime) -> None:
    """`redeem_alone` (what `POST /v1/cards/{id}/redeem` tries first without an Idempotency-Key):
    one autocommitted statement on PostgreSQL, sent by the driver itself, and one transaction of its
    own on SQLite's raw connection; nothing on a refusal, or for an account with webhook endpoints
    (whose deliveries must commit with the event)."""
    t = await factories.tenant(rt)
    card = (await factories.card(rt, t.account_id, amount=1000)).card
    await redeem(rt, t.account_id, card.id, 1)
    with statements(rt) as seen:
        async with rt.reader() as uow:
            m = await card_money.redeem_alone(uow, account_id=t.account_id, card_id=card.id, amount=9, reference=None)
    assert m is not None
    assert m.card.balance == 990
    assert seen == []  # one statement straight to the driver, nothing through SQLAlchemy ...
    async with rt.reader() as uow:  # ... and committed: another connection sees it
        assert (await card_money.cards.get(uow, account_id=t.account_id, card_id=card.id)).balance == 990
    async with rt.reader() as uow:
        assert (
            await card_money.redeem_alone(uow, account_id=t.account_id, card_id=card.id, amount=5000, reference=None)
            is None
        )
    await factories.webhook_endpoint(rt, t.account_id, "https://hooks.example/a", events=["card.redeemed"])
    async with rt.reader() as uow:
        assert (
            await card_money.redeem_alone(uow, account_id=t.account_id, card_id=card.id, amount=1, reference=None)
            is None
        )
    m = await redeem(rt, t.account_id, card.id, 1)  # in a transaction, with its delivery
    assert m.card.balance == 989
    assert await count(rt, Transfer, card_id=card.id) == 4
    async with rt.reader() as uow:
        assert (await verify.verify(uow)).ok


async def test_racing_redemptions_never_overdraw(rt: Runtime, settings, clock) -> None:  # type: ignore[no-untyped-def]
    """Four runtimes (four connection pools: on SQLite four connections to one file, each fast
    path in its own BEGIN IMMEDIATE or in the unit of work's) spend one card at once, alone and in
    transactions: exactly as many succeed as the balance allows, the rest are refused, the ledger
    adds up."""
    t = await factories.tenant(rt)
    card = (await factories.card(rt, t.account_id, amount=1000)).card
    await redeem(rt, t.account_id, card.id, 1)  # makes the redemption account: 999 left
    others = [build_runtime(settings, clock=clock) for _ in range(3)]

    async def alone(r: Runtime) -> bool:
        async with r.reader() as uow:
            return (
                await card_money.redeem_alone(uow, account_id=t.account_id, card_id=card.id, amount=7, reference=None)
                is not None
            )

    async def in_tx(r: Runtime) -> bool:
        try:
            await redeem(r, t.account_id, card.id, 7)
        except InsufficientFunds:
            return False
        return True

    try:
        runs = [(alone if i % 2 else in_tx)(r) for i in range(60) for r in (rt, *others)]
        done = sum(await asyncio.gather(*runs))
    finally:
        for r in others:
            await r.close()
    assert done == 999 // 7
    async with rt.reader() as uow:
        assert (await card_money.cards.get(uow, account_id=t.account_id, card_id=card.id)).balance == 999 - 7 * done
        assert (await verify.verify(uow)).ok
    assert await count(rt, Transfer, card_id=card.id) == done + 2  # and the activation, the first


async def test_card_read_on_sqlite_is_one_trip_to_the_raw_connection(rt: Runtime) -> None:
    """`cards.get` on SQLite reads on the raw connection (nothing through SQLAlchemy), with the
    same card as the general read: another account's card is `NotFound`."""
    t, other = await factories.tenant(rt), await factories.tenant(rt)
    made = (await factories.card(rt, t.account_id, amount=1000)).card
    with statements(rt) as seen:
        async with rt.reader() as uow:
            card = await card_money.cards.get(uow, account_id=t.account_id, card_id=made.id)
    assert card == made
    if rt.engine.dialect.name == "sqlite":
        assert seen == []
    async with rt.reader() as uow:
        with pytest.raises(NotFound):
            await card_money.cards.get(uow, account_id=other.account_id, card_id=made.id)
