"""Liability: what an issuer owes its card holders, per currency, at any instant.

It is the sum of the balances of the account's cards (test cards left out) as the ledger has
them: the stored running balances, which `ledger verify` checks against the transfers, less
every movement posted after the instant. Going back from now touches only the transfers since
then, so the report for now reads just the card accounts (one indexed scan), and a past instant
adds the movements after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from giftwell.domain.reports import check_as_of
from giftwell.services.reports.ledger_views import card_accounts, movements
from giftwell.store.models import Transfer
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Owed:
    currency: str
    amount: int  # minor units
    cards: int  # cards holding a positive balance


@dataclass(frozen=True, slots=True)
class Liability:
    as_of: datetime
    data: list[Owed]


async def liability(uow: UnitOfWork, *, account_id: str, as_of: datetime | None = None) -> Liability:
    """The account's liability per currency at `as_of` (now when not given), currencies in
    alphabetical order; a currency none of whose cards held value then is left out."""
    at = check_as_of(as_of, uow.now)
    cards = card_accounts(account_id)
    balance = sa.func.coalesce(cards.c.balance, 0)
    if at < uow.now:
        after = movements(cards, Transfer.posted_at > at)
        since = sa.select(after.c.la, sa.func.sum(after.c.delta).label("delta")).group_by(after.c.la).subquery()
        balance_then = balance - sa.func.coalesce(since.c.delta, 0)
        source = sa.select(cards.c.currency, balance_then.label("bal")).outerjoin(since, since.c.la == cards.c.la)
    else:
        source = sa.select(cards.c.currency, balance.label("bal"))
    per_card = source.subquery("per_card")
    rows = await uow.conn.execute(
        sa.select(
            per_card.c.currency,
            sa.func.sum(per_card.c.bal).label("amount"),
            sa.func.sum(sa.case((per_card.c.bal > 0, 1), else_=0)).label("cards"),
        )
        .group_by(per_card.c.currency)
        .order_by(per_card.c.currency)
    )
    data = [Owed(r.currency, int(r.amount or 0), int(r.cards or 0)) for r in rows]
    return Liability(at, [o for o in data if o.amount or o.cards])
