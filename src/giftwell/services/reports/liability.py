"""Liability: what an issuer owes its card holders, per currency, at any instant.

It is the sum of the balances of the account's cards (test cards left out) as the ledger has
them: the stored running balances, which `ledger verify` checks against the transfers, less
every movement posted after the instant. Going back from now touches only the transfers since
then, so the report for now reads just the card accounts (one indexed scan), and a past instant
adds the movements after it, summed per account before they meet the card accounts.

A transfer that moves a card's value belongs to the card's account (`transfers.account_id`):
issue, redemption, expiry, refund, adjustment, a card-to-card move within the account, an order's
cancellation; so the movements since `as_of` are read from the account's own transfers.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from giftwell.domain.ledger import AccountKind, TransferStatus
from giftwell.domain.reports import check_as_of
from giftwell.store.models import Card, LedgerAccount, Transfer
from giftwell.store.uow import UnitOfWork

REPORT_WORK_MEM = "128MB"


@dataclass(frozen=True, slots=True)
class Owed:
    currency: str
    amount: int  # minor units
    cards: int  # cards holding a positive balance


@dataclass(frozen=True, slots=True)
class Liability:
    as_of: datetime
    data: list[Owed]


@contextlib.asynccontextmanager
async def _report_memory(uow: UnitOfWork) -> AsyncIterator[None]:
    """On PostgreSQL, room to aggregate a million cards' movements in memory for this one query
    (the default 4 MB `work_mem` spills them to disk, several times slower). `SET LOCAL`, in a
    transaction of its own when the unit of work is autocommit: the setting ends with it, so the
    connection goes back as it came, and behind PgBouncer in transaction mode the setting and the
    query share one server connection (a session `SET` would stay on whichever one it ran on)."""
    if uow.dialect != "postgresql":
        yield
        return
    if not uow.read_only:
        await uow.conn.exec_driver_sql(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
        yield
        return
    await uow.conn.exec_driver_sql("BEGIN READ ONLY")
    try:
        await uow.conn.exec_driver_sql(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
        yield
    finally:
        await uow.conn.exec_driver_sql("ROLLBACK")


def _since(account_id: str, at: datetime) -> sa.Subquery:
    """Each ledger account's net movement (+ credit, - debit) in the account's transfers posted
    after `at`."""
    later = sa.and_(
        Transfer.account_id == account_id, Transfer.status == TransferStatus.POSTED.value, Transfer.posted_at > at
    )
    # Only the guarded legs (cards, funding): a leg has a balance after it exactly when its
    # account keeps a running balance (the ledger's own test, `settle._leg_of`). The system side
    # of each transfer (issuance, redemption, ...) is never a card: leaving it out halves the rows.
    legs = sa.union_all(
        sa.select(Transfer.credit_account_id.label("la"), Transfer.amount.label("delta")).where(
            later, Transfer.credit_balance_after.is_not(None)
        ),
        sa.select(Transfer.debit_account_id.label("la"), (-Transfer.amount).label("delta")).where(
            later, Transfer.debit_balance_after.is_not(None)
        ),
    ).subquery("legs")
    return sa.select(legs.c.la, sa.func.sum(legs.c.delta).label("delta")).group_by(legs.c.la).subquery("since")


async def liability(uow: UnitOfWork, *, account_id: str, as_of: datetime | None = None) -> Liability:
    """The account's liability per currency at `as_of` (now when not given), currencies in
    alphabetical order; a currency none of whose cards held value then is left out."""
    at = check_as_of(as_of, uow.now)
    test_cards = sa.select(Card.ledger_account_id).where(Card.account_id == account_id, Card.test.is_(True))
    balance: sa.ColumnElement[int] = sa.func.coalesce(LedgerAccount.balance, 0)
    q = sa.select(LedgerAccount.currency.label("currency"))
    if at < uow.now:
        since = _since(account_id, at)
        balance = balance - sa.func.coalesce(since.c.delta, 0)
        q = q.outerjoin(since, since.c.la == LedgerAccount.id)
    per_card = (
        q.add_columns(balance.label("bal"))
        .where(
            LedgerAccount.account_id == account_id,
            LedgerAccount.kind == AccountKind.CARD.value,
            LedgerAccount.id.not_in(test_cards),
        )
        .subquery("per_card")
    )
    query = (
        sa.select(
            per_card.c.currency,
            sa.func.sum(per_card.c.bal).label("amount"),
            sa.func.sum(sa.case((per_card.c.bal > 0, 1), else_=0)).label("cards"),
        )
        .group_by(per_card.c.currency)
        .order_by(per_card.c.currency)
    )
    async with _report_memory(uow):
        rows = (await uow.conn.execute(query)).all()
    data = [Owed(r.currency, int(r.amount or 0), int(r.cards or 0)) for r in rows]
    return Liability(at, [o for o in data if o.amount or o.cards])
