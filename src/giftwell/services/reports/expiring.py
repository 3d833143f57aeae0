"""Expiring soon: the account's cards that still hold value and expire within the next N days,
soonest first, with the totals per currency (test cards left out). A list like any other:
keyset pages (`services.pagination`); the export walks every page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from giftwell.domain.cards import EXPIRABLE, Card
from giftwell.domain.reports import check_days
from giftwell.services.cards.reads import card_from_row, select_cards
from giftwell.services.pagination import MAX_LIMIT, Kind, Page, Sort, paginate
from giftwell.services.reports.liability import Owed
from giftwell.services.runtime import Runtime
from giftwell.store.models import Card as CardRow
from giftwell.store.models import LedgerAccount
from giftwell.store.uow import UnitOfWork

SOONEST_FIRST = Sort("expires_at", CardRow.expires_at, Kind.TIME, CardRow.id)
DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class Expiring:
    days: int
    until: datetime
    totals: list[Owed]
    page: Page[Card]


def _window(account_id: str, now: datetime, until: datetime) -> list[sa.ColumnElement[bool]]:
    return [
        CardRow.account_id == account_id,
        CardRow.test.is_(False),
        CardRow.status.in_([s.value for s in EXPIRABLE]),
        CardRow.expires_at > now,
        CardRow.expires_at <= until,
        LedgerAccount.balance > 0,
    ]


async def expiring(
    uow: UnitOfWork, *, account_id: str, days: int = DEFAULT_DAYS, limit: int = 20, cursor: str | None = None
) -> Expiring:
    """Cards holding value that expire after now and at most `days` days from now."""
    check_days(days, param="days")
    until = uow.now + timedelta(days=days)
    where = _window(account_id, uow.now, until)
    totals = await uow.conn.execute(
        sa.select(CardRow.currency, sa.func.sum(LedgerAccount.balance).label("amount"), sa.func.count().label("n"))
        .join(LedgerAccount, LedgerAccount.id == CardRow.ledger_account_id)
        .where(*where)
        .group_by(CardRow.currency)
        .order_by(CardRow.currency)
    )
    owed = [Owed(r.currency, int(r.amount), int(r.n)) for r in totals]
    return Expiring(days, until, owed, await _page(uow, where, limit, cursor))


async def _page(uow: UnitOfWork, where: list[sa.ColumnElement[bool]], limit: int, cursor: str | None) -> Page[Card]:
    q = select_cards().where(*where)
    return await paginate(uow, q, sort=SOONEST_FIRST, limit=limit, cursor=cursor, convert=card_from_row)


async def export_expiring(rt: Runtime, *, account_id: str, days: int = DEFAULT_DAYS) -> AsyncIterator[Card]:
    """Every card of the report, page after page, each page in a short read of its own (an
    export never holds a connection while the client downloads: SQLite has one)."""
    check_days(days, param="days")
    now = rt.clock()
    where = _window(account_id, now, now + timedelta(days=days))
    cursor: str | None = None
    while True:
        async with rt.reader() as uow:
            found = await _page(uow, where, MAX_LIMIT, cursor)
        for card in found.data:
            yield card
        if not found.has_more:
            return
        cursor = found.next_cursor
