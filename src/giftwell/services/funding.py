"""Funding: an account's prepaid balance, one guarded ledger account per currency.

The operator tops it up (`fund`: from the operator's funding-source system account); orders
reserve from it (a hold), charge it as cards are issued (`charge`, to the operator's sales
account) and get cancelled cards' prices back (`refund`, from sales). Every movement is a
transfer through `services.ledger`; nothing here writes a balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.ledger import MAX_BALANCE, AccountKind, Transfer, TransferKind, require_positive
from giftwell.services import access, events, ledger
from giftwell.services.currencies import currency as check_currency
from giftwell.services.ledger import Leg, LegRefused, Posting
from giftwell.services.pagination import Page, check_limit, decode_cursor, encode_cursor
from giftwell.store.models import LedgerAccount as LA
from giftwell.store.models import Transfer as TR
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    balance: int
    available: int


async def add(uow: UnitOfWork, *, account_id: str, currency: str, amount: int, reference: str | None = None) -> Posting:
    """Top up an account's funding balance (the operator received the money outside Giftwell)."""
    cur = check_currency(currency)
    require_positive(amount)
    await access.get_account(uow, account_id)
    op = await access.operator_account(uow)
    if op.id == account_id:
        raise ValidationFailed("the operator account is not funded: it is paid", param="account")
    source = await ledger.system_account(uow, account_id=op.id, kind=AccountKind.FUNDING_SOURCE, currency=cur.code)
    fund = await ledger.funding_account(uow, account_id=account_id, currency=cur.code)
    try:
        p = await ledger.post(
            uow,
            account_id=account_id,
            kind=TransferKind.FUND,
            currency=cur.code,
            amount=amount,
            debit=Leg(source, guarded=False),
            credit=Leg(fund, guarded=True),
            reference=reference,
        )
    except LegRefused:
        # The funding leg is the only guarded one, and a credit is refused only at the ceiling.
        raise ValidationFailed(
            f"the funding balance may not exceed {MAX_BALANCE}", param="amount", rule="max_balance", max=MAX_BALANCE
        ) from None
    await events.record(
        uow,
        account_id=account_id,
        type="funding.added",
        subject_id=p.transfer.id,
        data={"transfer": p.transfer.id, "amount": amount, "currency": cur.code},
    )
    return p


async def balances(uow: UnitOfWork, *, account_id: str) -> list[Balance]:
    """The account's funding balances, one per currency it has ever been funded in."""
    rows = await uow.conn.execute(
        sa.select(LA.currency, LA.balance, LA.pending_out)
        .where(LA.account_id == account_id, LA.kind == AccountKind.FUNDING.value)
        .order_by(LA.currency)
    )
    return [Balance(r.currency, int(r.balance), int(r.balance) - int(r.pending_out)) for r in rows]


async def statement(uow: UnitOfWork, *, account_id: str, limit: int = 50, cursor: str | None = None) -> Page[Transfer]:
    """Every transfer touching the account's funding balances (top-ups, holds, charges,
    refunds), newest first."""
    check_limit(limit)
    mine = sa.select(LA.id).where(LA.account_id == account_id, LA.kind == AccountKind.FUNDING.value)
    q = sa.select(TR).where(sa.or_(TR.debit_account_id.in_(mine), TR.credit_account_id.in_(mine)))
    if cursor:
        value, last_id = decode_cursor(cursor, "-created_at")
        at = datetime.fromisoformat(value)
        q = q.where(sa.or_(TR.created_at < at, sa.and_(TR.created_at == at, TR.id < last_id)))
    rows = (await uow.conn.execute(q.order_by(TR.created_at.desc(), TR.id.desc()).limit(limit + 1))).all()
    items = [ledger.transfer_from_row(r) for r in rows[:limit]]
    more = len(rows) > limit
    nxt = encode_cursor("-created_at", items[-1].created_at.isoformat(), items[-1].id) if more and items else None
    return Page(items, more, nxt)
