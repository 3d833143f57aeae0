"""Credit lines: the operator grants a limit, orders draw it down, payments restore it.

A credit line is a guarded ledger account holding the credit still unused (domain/funding.py).
`set_credit_line` posts each change of limit as a `credit_limit` transfer and `settle` a payment
received as a `settle` transfer from the operator's funding-source account (money that came in
from outside Giftwell, like a top-up), with its receipt. Nothing here writes a balance.
"""

from __future__ import annotations

import sqlalchemy as sa

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.funding import Line, ReceiptKind, SourceKind, check_limit
from giftwell.domain.ledger import AccountKind, TransferKind, require_positive
from giftwell.services import events
from giftwell.services.access import accounts
from giftwell.services.currencies import currency as check_currency
from giftwell.services.funding import receipts, sources
from giftwell.services.funding.receipts import Receipt
from giftwell.services.funding.sources import Source
from giftwell.services.ledger import accounts as ledger_accounts
from giftwell.services.ledger import transfers
from giftwell.services.ledger.transfers import Leg, LegRefused
from giftwell.store.models import FundingSource, LedgerAccount
from giftwell.store.uow import UnitOfWork


async def _buyer(uow: UnitOfWork, account_id: str) -> str:
    """The operator's id, after checking `account_id` is a buyer (the operator is paid, not funded)."""
    op = await accounts.operator_account(uow)
    await accounts.get_account(uow, account_id)
    if op.id == account_id:
        raise ValidationFailed("the operator account is not funded: it is paid", param="account")
    return op.id


async def set_credit_line(
    uow: UnitOfWork, *, account_id: str, currency: str, limit: int, default: bool | None = None
) -> Source:
    """Grant a credit line in `currency`, or change its limit (and whether it is the default).

    The change of limit is posted as a `credit_limit` transfer (up: from the operator's `credit`
    account; down: back to it, guarded, so a limit below what is owed and reserved is refused
    with `validation_error` on `limit`)."""
    cur = check_currency(currency).code
    check_limit(limit)
    operator = await _buyer(uow, account_id)
    la = await ledger_accounts.credit_line_account(uow, account_id=account_id, currency=cur)
    source_id = await sources.ensure(
        uow, account_id=account_id, kind=SourceKind.CREDIT_LINE, currency=cur, ledger_account_id=la, limit=0
    )
    before = await sources.get_source(uow, account_id=account_id, source_id=source_id)
    old = before.credit_limit or 0
    if limit != old:
        credit = await ledger_accounts.system_account(uow, account_id=operator, kind=AccountKind.CREDIT, currency=cur)
        line, system = Leg(la, guarded=True), Leg(credit, guarded=False)
        try:
            await transfers.post(
                uow,
                account_id=account_id,
                kind=TransferKind.CREDIT_LIMIT,
                currency=cur,
                amount=abs(limit - old),
                debit=system if limit > old else line,
                credit=line if limit > old else system,
                reason=f"credit limit {old} -> {limit}",
            )
        except LegRefused:
            in_use = old - before.state.available
            raise ValidationFailed(
                f"the limit cannot go below what is owed and reserved ({in_use})",
                param="limit",
                rule="in_use",
                in_use=in_use,
            ) from None
        await uow.conn.execute(
            sa.update(FundingSource).where(FundingSource.id == source_id).values(credit_limit=limit, updated_at=uow.now)
        )
    if default is not None:
        await sources.set_default(uow, account_id=account_id, currency=cur, source_id=source_id if default else None)
    await events.record(
        uow,
        account_id=account_id,
        type="funding_source.updated",
        subject_id=source_id,
        data={"funding_source": source_id, "kind": SourceKind.CREDIT_LINE.value, "currency": cur, "limit": limit},
    )
    return await sources.get_source(uow, account_id=account_id, source_id=source_id)


async def settle(
    uow: UnitOfWork, *, account_id: str, currency: str, amount: int, reference: str | None = None
) -> Receipt:
    """Record a payment of `amount` against the account's credit line in `currency`: the line's
    unused credit goes up by `amount` (a `settle` transfer), never past its limit (at most what
    is owed: `validation_error` on `amount`). Returns the settlement's receipt."""
    cur = check_currency(currency).code
    require_positive(amount)
    operator = await _buyer(uow, account_id)
    line = await uow.conn.scalar(
        sa.select(FundingSource.id).where(
            FundingSource.account_id == account_id,
            FundingSource.currency == cur,
            FundingSource.kind == SourceKind.CREDIT_LINE.value,
        )
    )
    if line is None:
        raise ValidationFailed(f"this account has no credit line in {cur}", param="currency")
    source = await sources.get_source(uow, account_id=account_id, source_id=str(line))
    funding_source = await ledger_accounts.system_account(
        uow, account_id=operator, kind=AccountKind.FUNDING_SOURCE, currency=cur
    )
    try:
        posting = await transfers.post(
            uow,
            account_id=account_id,
            kind=TransferKind.SETTLE,
            currency=cur,
            amount=amount,
            debit=Leg(funding_source, guarded=False),
            credit=Leg(source.ledger_account_id, guarded=True, require=_WITHIN_LIMIT, params=(("settled", amount),)),
            reference=reference,
        )
    except LegRefused:
        raise ValidationFailed(
            f"a settlement may be at most what is owed ({source.state.owed})",
            param="amount",
            rule="owed",
            owed=source.state.owed,
        ) from None
    receipt = await receipts.record(
        uow,
        account_id=account_id,
        funding_source_id=source.id,
        kind=ReceiptKind.SETTLEMENT,
        transfer=posting.transfer,
        lines=[Line("Payment received on the credit line", amount)],
        reference=reference,
    )
    await events.record(
        uow,
        account_id=account_id,
        type="funding_source.settled",
        subject_id=source.id,
        data={"funding_source": source.id, "amount": amount, "currency": cur, "receipt": receipt.id},
    )
    return receipt


# The credit line's unused credit may rise at most to its limit (the limit is on the source row).
_WITHIN_LIMIT = LedgerAccount.balance <= (
    sa.select(FundingSource.credit_limit).where(FundingSource.ledger_account_id == LedgerAccount.id).scalar_subquery()
    - sa.bindparam("settled")
)
