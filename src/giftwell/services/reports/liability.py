"""Liability: what an issuer owes its card holders, per currency, at any instant.

It is the sum of the balances of the account's cards (test cards left out) as the ledger has
them: the stored running balances, which `ledger verify` checks against the transfers, less
every movement posted after the instant. Going back from now touches only the transfers since
then, so the report for now reads just the card accounts (one indexed scan), and a past instant
adds the movements after it, summed per account before they meet the card accounts.

A transfer that moves a card's value belongs to the card's account (`transfers.account_id`):
issue, redemption, expiry, refund, adjustment, a card-to-card move within the account, an order's
cancellation; so the movements since `as_of` are read from the account's own transfers.

Value on a choice reward link not yet picked is owed too, by the operator: its issuance account
funded the link, and a pick turns the value into a card. It is reported apart from the cards
(`links`, `link_count`), on the operator's report only, read from the links' own ledger accounts.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain.ledger import AccountKind, TransferStatus
from giftwell.domain.reports import check_as_of
from giftwell.store.models import Account, Card, ChoiceLink, LedgerAccount, Transfer
from giftwell.store.uow import UnitOfWork

REPORT_WORK_MEM = "128MB"


@dataclass(frozen=True, slots=True)
class Owed:
    currency: str
    amount: int  # minor units
    cards: int  # cards holding a positive balance
    links: int = 0  # minor units on choice reward links not yet picked (the operator's report)
    link_count: int = 0  # links holding a positive balance


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
    owed = {r.currency: Owed(r.currency, int(r.amount or 0), int(r.cards or 0)) for r in rows}
    if await uow.conn.scalar(sa.select(Account.is_operator).where(Account.id == account_id)):
        for r in await _links(uow, at):
            o = owed.get(r.currency) or Owed(r.currency, 0, 0)
            owed[r.currency] = Owed(o.currency, o.amount, o.cards, int(r.amount or 0), int(r.n or 0))
    data = [owed[c] for c in sorted(owed)]
    return Liability(at, [o for o in data if o.amount or o.cards or o.links or o.link_count])


async def _links(uow: UnitOfWork, at: datetime) -> list[Any]:
    """Per currency, the value on live (not test) choice links at `at` and how many held some:
    each link's running balance less its movements posted after `at` (a link's transfers belong
    to the buyer's account, so they are found through the link's ledger account)."""
    links = sa.select(ChoiceLink.ledger_account_id.label("la"), ChoiceLink.currency.label("currency")).where(
        ChoiceLink.test.is_(False)
    )
    balance: sa.ColumnElement[int] = sa.func.coalesce(LedgerAccount.balance, 0)
    lk = links.subquery("lk")
    q = sa.select(lk.c.currency).join(LedgerAccount, LedgerAccount.id == lk.c.la)
    if at < uow.now:
        later = sa.and_(Transfer.status == TransferStatus.POSTED.value, Transfer.posted_at > at)
        legs = sa.union_all(
            sa.select(lk.c.la, Transfer.amount.label("delta"))
            .join(Transfer, Transfer.credit_account_id == lk.c.la)
            .where(later),
            sa.select(lk.c.la, (-Transfer.amount).label("delta"))
            .join(Transfer, Transfer.debit_account_id == lk.c.la)
            .where(later),
        ).subquery("link_legs")
        since = (
            sa.select(legs.c.la, sa.func.sum(legs.c.delta).label("delta")).group_by(legs.c.la).subquery("link_since")
        )
        balance = balance - sa.func.coalesce(since.c.delta, 0)
        q = q.outerjoin(since, since.c.la == lk.c.la)
    per_link = q.add_columns(balance.label("bal")).subquery("per_link")
    query = sa.select(
        per_link.c.currency,
        sa.func.sum(per_link.c.bal).label("amount"),
        sa.func.sum(sa.case((per_link.c.bal > 0, 1), else_=0)).label("n"),
    ).group_by(per_link.c.currency)
    return list((await uow.conn.execute(query)).all())
