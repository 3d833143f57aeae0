"""Funding: an account's prepaid balance, one guarded ledger account per currency (its
funding source of kind `prepaid`, see `sources`), and the statement of every source.

The operator tops it up (`fund`: from the operator's funding-source system account, with a
receipt); orders reserve from it (a hold), charge it as cards are issued (`charge`, to the
operator's sales account) and get cancelled cards' prices back (`refund`, from sales). Every
movement is a transfer through `services.ledger`; nothing here writes a balance.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.funding import Line, ReceiptKind
from giftwell.domain.ledger import MAX_BALANCE, AccountKind, Transfer, TransferKind, require_positive
from giftwell.services import audit, events
from giftwell.services.access import accounts
from giftwell.services.currencies import currency as check_currency
from giftwell.services.funding import receipts, sources
from giftwell.services.ledger import accounts as ledger_accounts
from giftwell.services.ledger import transfers
from giftwell.services.ledger.transfers import Leg, LegRefused, Posting
from giftwell.services.pagination import Page, newest_first, paginate
from giftwell.store.models import LedgerAccount
from giftwell.store.models import Transfer as TransferRow
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
    await accounts.get_account(uow, account_id)
    op = await accounts.operator_account(uow)
    if op.id == account_id:
        raise ValidationFailed("the operator account is not funded: it is paid", param="account")
    source = await ledger_accounts.system_account(
        uow, account_id=op.id, kind=AccountKind.FUNDING_SOURCE, currency=cur.code
    )
    prepaid = await sources.prepaid(uow, account_id=account_id, currency=cur.code)
    fund = prepaid.ledger_account_id
    try:
        p = await transfers.post(
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
    await receipts.record(
        uow,
        account_id=account_id,
        funding_source_id=prepaid.id,
        kind=ReceiptKind.TOP_UP,
        transfer=p.transfer,
        lines=[Line("Funds added to the prepaid balance", amount)],
        reference=reference,
    )
    await events.record(
        uow,
        account_id=account_id,
        type="funding.added",
        subject_id=p.transfer.id,
        data={"transfer": p.transfer.id, "amount": amount, "currency": cur.code},
    )
    await audit.record(
        uow,
        "funding.added",
        target=("transfer", p.transfer.id),
        account_id=account_id,
        changes={"amount": amount, "currency": cur.code, "reference": reference},
    )
    return p


async def balances(uow: UnitOfWork, *, account_id: str) -> list[Balance]:
    """The account's funding balances, one per currency it has ever been funded in."""
    rows = await uow.conn.execute(
        sa.select(LedgerAccount.currency, LedgerAccount.balance, LedgerAccount.pending_out)
        .where(LedgerAccount.account_id == account_id, LedgerAccount.kind == AccountKind.FUNDING.value)
        .order_by(LedgerAccount.currency)
    )
    return [Balance(r.currency, int(r.balance), int(r.balance) - int(r.pending_out)) for r in rows]


SOURCE_KINDS = (AccountKind.FUNDING.value, AccountKind.CREDIT_LINE.value)


async def statement(
    uow: UnitOfWork,
    *,
    account_id: str,
    funding_source_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Transfer]:
    """Every transfer touching the account's funding sources (top-ups, holds, charges, refunds,
    settlements, credit-limit changes), or one source's, newest first."""
    mine = sa.select(LedgerAccount.id).where(
        LedgerAccount.account_id == account_id, LedgerAccount.kind.in_(SOURCE_KINDS)
    )
    if funding_source_id is not None:
        source = await sources.get_source(uow, account_id=account_id, source_id=funding_source_id)
        mine = mine.where(LedgerAccount.id == source.ledger_account_id)
    q = sa.select(TransferRow).where(
        sa.or_(TransferRow.debit_account_id.in_(mine), TransferRow.credit_account_id.in_(mine))
    )
    sort = newest_first(TransferRow.created_at, TransferRow.id)
    return await paginate(uow, q, sort=sort, limit=limit, cursor=cursor, convert=transfers.transfer_from_row)
