"""The home page's charts: liability at the end of each of the last N days and the value
redeemed on each, per currency. One pass over the movements of the window: the liability now,
less each later day's net movement, going back day by day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from giftwell.domain.ledger import TransferKind
from giftwell.domain.reports import check_days, day_starts
from giftwell.services.reports.ledger_views import bucket, card_accounts, movements
from giftwell.services.reports.liability import liability
from giftwell.store.models import Transfer
from giftwell.store.uow import UnitOfWork

_REDEEMED = (TransferKind.REDEEM.value, TransferKind.REFUND.value)


@dataclass(frozen=True, slots=True)
class Day:
    day: datetime  # the day's start (UTC)
    liability: int  # at the end of the day (for today: now)
    redeemed: int  # redemptions less refunds that day


@dataclass(frozen=True, slots=True)
class Series:
    currency: str
    days: list[Day]


async def timeline(uow: UnitOfWork, *, account_id: str, days: int = 30) -> list[Series]:
    """One series per currency with value now or movements in the window, alphabetical."""
    check_days(days, param="days", high=366)
    starts = day_starts(uow.now, days)
    now = await liability(uow, account_id=account_id)
    moves = movements(card_accounts(account_id), Transfer.posted_at >= starts[0], Transfer.posted_at <= uow.now)
    day = bucket(uow, moves.c.posted_at, 10).label("day")
    redeemed = sa.func.sum(sa.case((moves.c.kind.in_(_REDEEMED), -moves.c.delta), else_=0))
    rows = await uow.conn.execute(
        sa.select(moves.c.currency, day, sa.func.sum(moves.c.delta).label("net"), redeemed.label("redeemed")).group_by(
            moves.c.currency, day
        )
    )
    per: dict[str, dict[str, tuple[int, int]]] = {}
    for r in rows:
        per.setdefault(r.currency, {})[r.day] = (int(r.net), int(r.redeemed))
    current = {o.currency: o.amount for o in now.data}
    out = []
    for currency in sorted(set(per) | set(current)):
        flows = per.get(currency, {})
        level = current.get(currency, 0)
        points: list[Day] = []
        for start in reversed(starts):
            net, red = flows.get(start.strftime("%Y-%m-%d"), (0, 0))
            points.append(Day(start, level, red))
            level -= net  # the end of the day before
        out.append(Series(currency, list(reversed(points))))
    return out
