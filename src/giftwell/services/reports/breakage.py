"""Breakage: value that will never be redeemed.

Three figures per currency, from the ledger up to `as_of`:
- **expired** value per month: what the sweep moved from expired cards to the breakage account
  (transfers of kind `expire`): breakage that has happened.
- an **estimated schedule** by ASC 606's proportional method (`domain.reports.breakage_schedule`):
  with an assumed breakage rate, expected breakage recognised in proportion to redemptions,
  month by month.
- **dormant** value, held apart: cards still holding value with no movement for
  `dormant_after_days`. Unclaimed-property laws may make that value owed to a state, so it never
  counts as revenue: dormant cards are left out of the estimate altogether.

Issued value is what activations and reloads put on cards; redeemed is redemptions less their
refunds. Adjustments and card-to-card transfers are neither (they correct or move value already
issued). Test cards are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from giftwell.domain.ledger import TransferKind
from giftwell.domain.reports import (
    DEFAULT_DORMANT_DAYS,
    MonthFlows,
    Schedule,
    breakage_schedule,
    check_as_of,
    check_days,
    check_rate,
)
from giftwell.services.reports.ledger_views import bucket, card_accounts, movements
from giftwell.store.models import Transfer
from giftwell.store.uow import UnitOfWork

_ISSUED = (TransferKind.ACTIVATE.value, TransferKind.RELOAD.value)
_REDEEMED = (TransferKind.REDEEM.value, TransferKind.REFUND.value)


@dataclass(frozen=True, slots=True)
class Dormant:
    amount: int
    cards: int


@dataclass(frozen=True, slots=True)
class CurrencyBreakage:
    currency: str
    schedule: Schedule
    dormant: Dormant


@dataclass(frozen=True, slots=True)
class Breakage:
    as_of: datetime
    rate: Decimal
    dormant_after_days: int
    data: list[CurrencyBreakage]


async def breakage(
    uow: UnitOfWork,
    *,
    account_id: str,
    rate: object,
    as_of: datetime | None = None,
    dormant_after_days: int = DEFAULT_DORMANT_DAYS,
) -> Breakage:
    """The breakage report of the account's cards up to `as_of` (now when not given)."""
    r = check_rate(rate)
    days = check_days(dormant_after_days, param="dormant_after_days")
    at = check_as_of(as_of, uow.now)
    cards = card_accounts(account_id)

    # Each card's balance and last movement at `as_of`: a card is dormant when it still holds
    # value and nothing has moved on it for `days`.
    moves = movements(cards, Transfer.posted_at <= at)
    per_card = (
        sa.select(
            moves.c.la,
            sa.func.sum(moves.c.delta).label("bal"),
            sa.func.max(moves.c.posted_at).label("last"),
        )
        .group_by(moves.c.la)
        .subquery("per_card")
    )
    dormant_la = sa.select(per_card.c.la).where(per_card.c.bal > 0, per_card.c.last < at - timedelta(days=days))
    dormant_rows = await uow.conn.execute(
        sa.select(cards.c.currency, sa.func.sum(per_card.c.bal).label("amount"), sa.func.count().label("n"))
        .join(per_card, per_card.c.la == cards.c.la)
        .where(per_card.c.la.in_(dormant_la))
        .group_by(cards.c.currency)
    )
    dormant = {row.currency: Dormant(int(row.amount), int(row.n)) for row in dormant_rows}

    month = bucket(uow, moves.c.posted_at, 7).label("month")
    flows = await uow.conn.execute(
        sa.select(moves.c.currency, month, moves.c.kind, sa.func.sum(moves.c.delta).label("delta"))
        .where(moves.c.kind.in_((*_ISSUED, *_REDEEMED, TransferKind.EXPIRE.value)), moves.c.la.not_in(dormant_la))
        .group_by(moves.c.currency, month, moves.c.kind)
    )
    by_currency: dict[str, dict[str, list[int]]] = {}
    for row in flows:
        cell = by_currency.setdefault(row.currency, {}).setdefault(row.month, [0, 0, 0])
        delta = int(row.delta)
        if row.kind in _ISSUED:
            cell[0] += delta
        elif row.kind in _REDEEMED:
            cell[1] -= delta  # a redemption debits the card (-), a refund credits it back (+)
        else:
            cell[2] -= delta
    data = []
    for currency in sorted(set(by_currency) | set(dormant)):
        months = [MonthFlows(m, *v) for m, v in sorted(by_currency.get(currency, {}).items())]
        data.append(CurrencyBreakage(currency, breakage_schedule(months, r), dormant.get(currency, Dormant(0, 0))))
    return Breakage(at, r, days, data)
