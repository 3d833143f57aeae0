"""Ledger invariants, checked from the transfers themselves.

1. Each currency's accounts sum to zero (stored balances of guarded accounts plus the derived
   balances of system accounts).
2. A guarded account's stored balance equals the sum of its posted transfers, and its
   `pending_out` equals the sum of its pending holds.
3. No guarded account is negative, in balance or in available (balance minus holds).
4. Every transfer moves money between two accounts of its own currency.
5. A redemption's `refunded_amount` equals the sum of the refunds written against it.
6. A card's ledger account holds the card's currency.
7. A credit line's limit (on its funding source) equals the `credit_limit` transfers posted into
   its ledger account, and its unused credit never exceeds that limit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import sqlalchemy as sa

from giftwell.store.models import Card, FundingSource, LedgerAccount, Transfer
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken invariant. `account` is the ledger account (`la_...`); `card` the card that
    owns it, when a card does, so an operator can find it through the API."""

    check: str
    account: str | None
    detail: str
    card: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Report:
    accounts: int
    transfers: int
    currencies: dict[str, int]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify(uow: UnitOfWork) -> Report:
    conn = uow.conn
    posted = Transfer.status == "posted"
    credits = (
        sa.select(Transfer.credit_account_id.label("la"), sa.func.sum(Transfer.amount).label("amt"))
        .where(posted)
        .group_by(Transfer.credit_account_id)
        .subquery()
    )
    debits = (
        sa.select(Transfer.debit_account_id.label("la"), sa.func.sum(Transfer.amount).label("amt"))
        .where(posted)
        .group_by(Transfer.debit_account_id)
        .subquery()
    )
    holds = (
        sa.select(Transfer.debit_account_id.label("la"), sa.func.sum(Transfer.amount).label("amt"))
        .where(Transfer.status == "pending")
        .group_by(Transfer.debit_account_id)
        .subquery()
    )
    rows = (
        await conn.execute(
            sa.select(
                LedgerAccount.id,
                LedgerAccount.kind,
                LedgerAccount.currency,
                LedgerAccount.balance,
                LedgerAccount.pending_out,
                sa.func.coalesce(credits.c.amt, 0).label("cr"),
                sa.func.coalesce(debits.c.amt, 0).label("dr"),
                sa.func.coalesce(holds.c.amt, 0).label("held"),
            )
            .outerjoin(credits, credits.c.la == LedgerAccount.id)
            .outerjoin(debits, debits.c.la == LedgerAccount.id)
            .outerjoin(holds, holds.c.la == LedgerAccount.id)
        )
    ).all()
    problems: list[Problem] = []
    sums: dict[str, int] = {}
    for r in rows:
        derived = int(r.cr) - int(r.dr)
        balance = derived if r.balance is None else int(r.balance)
        sums[r.currency] = sums.get(r.currency, 0) + balance
        if r.balance is None:
            continue
        if balance != derived:
            problems.append(
                Problem("balance_matches_transfers", r.id, f"stored {balance} but transfers sum to {derived}")
            )
        if int(r.pending_out) != int(r.held):
            problems.append(
                Problem("holds_match_pending", r.id, f"pending_out {r.pending_out} but holds sum to {r.held}")
            )
        if balance < 0 or balance - int(r.pending_out) < 0:
            problems.append(
                Problem("not_negative", r.id, f"balance {balance}, available {balance - int(r.pending_out)}")
            )
    for cur, total in sorted(sums.items()):
        if total != 0:
            problems.append(Problem("currency_sums_to_zero", None, f"{cur} accounts sum to {total}, not 0"))

    debit_la, credit_la = sa.orm.aliased(LedgerAccount), sa.orm.aliased(LedgerAccount)
    mismatched = await conn.execute(
        sa.select(
            Transfer.id,
            Transfer.currency,
            debit_la.id.label("d"),
            debit_la.currency.label("dc"),
            credit_la.id.label("c"),
            credit_la.currency.label("cc"),
        )
        .join(debit_la, debit_la.id == Transfer.debit_account_id)
        .join(credit_la, credit_la.id == Transfer.credit_account_id)
        .where(sa.or_(debit_la.currency != Transfer.currency, credit_la.currency != Transfer.currency))
    )
    for m in mismatched:
        wrong = m.d if m.dc != m.currency else m.c
        problems.append(
            Problem("transfer_currency", wrong, f"transfer {m.id} in {m.currency} touches {m.dc}/{m.cc} accounts")
        )

    refunds = (
        sa.select(Transfer.refund_of.label("orig"), sa.func.sum(Transfer.amount).label("amt"))
        .where(Transfer.refund_of.is_not(None), posted)
        .group_by(Transfer.refund_of)
        .subquery()
    )
    bad_refunds = await conn.execute(
        sa.select(
            Transfer.id,
            Transfer.debit_account_id,
            Transfer.refunded_amount,
            sa.func.coalesce(refunds.c.amt, 0).label("sum"),
        )
        .outerjoin(refunds, refunds.c.orig == Transfer.id)
        .where(Transfer.refunded_amount != sa.func.coalesce(refunds.c.amt, 0))
    )
    for b in bad_refunds:
        problems.append(
            Problem(
                "refunds_match",
                b.debit_account_id,
                f"transfer {b.id} records {b.refunded_amount} refunded, refunds sum to {b.sum}",
            )
        )

    card_cur = await conn.execute(
        sa.select(Card.id, LedgerAccount.id.label("la"), Card.currency, LedgerAccount.currency.label("lac"))
        .join(LedgerAccount, LedgerAccount.id == Card.ledger_account_id)
        .where(Card.currency != LedgerAccount.currency)
    )
    for c in card_cur:
        problems.append(Problem("card_currency", c.la, f"card {c.id} is {c.currency} but its account is {c.lac}"))

    problems += await _credit_lines(uow)
    n_transfers = (await conn.execute(sa.select(sa.func.count()).select_from(Transfer))).scalar_one()
    return Report(len(rows), int(n_transfers), sums, await _with_cards(uow, problems))


async def _with_cards(uow: UnitOfWork, problems: list[Problem]) -> list[Problem]:
    accounts = {p.account for p in problems if p.account is not None}
    if not accounts:
        return problems
    rows = await uow.conn.execute(
        sa.select(Card.ledger_account_id, Card.id).where(Card.ledger_account_id.in_(accounts))
    )
    owner = {r.ledger_account_id: r.id for r in rows}
    return [replace(p, card=owner.get(p.account)) if p.account is not None else p for p in problems]


async def _credit_lines(uow: UnitOfWork) -> list[Problem]:
    limit_moves = Transfer.status == "posted", Transfer.kind == "credit_limit"
    into = (
        sa.select(sa.func.coalesce(sa.func.sum(Transfer.amount), 0))
        .where(*limit_moves, Transfer.credit_account_id == FundingSource.ledger_account_id)
        .scalar_subquery()
    )
    out_of = (
        sa.select(sa.func.coalesce(sa.func.sum(Transfer.amount), 0))
        .where(*limit_moves, Transfer.debit_account_id == FundingSource.ledger_account_id)
        .scalar_subquery()
    )
    rows = await uow.conn.execute(
        sa.select(
            FundingSource.id,
            FundingSource.ledger_account_id,
            FundingSource.credit_limit,
            LedgerAccount.balance,
            (into - out_of).label("granted"),
        )
        .join(LedgerAccount, LedgerAccount.id == FundingSource.ledger_account_id)
        .where(FundingSource.credit_limit.is_not(None))
    )
    problems = []
    for r in rows:
        if int(r.granted) != int(r.credit_limit):
            problems.append(
                Problem(
                    "credit_limit_matches",
                    r.ledger_account_id,
                    f"funding source {r.id} has limit {r.credit_limit} but credit_limit transfers sum to {r.granted}",
                )
            )
        if int(r.balance) > int(r.credit_limit):
            problems.append(
                Problem(
                    "credit_within_limit",
                    r.ledger_account_id,
                    f"funding source {r.id} has {r.balance} unused credit, over its limit {r.credit_limit}",
                )
            )
    return problems
