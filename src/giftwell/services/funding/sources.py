"""Funding sources: how a buyer pays. A prepaid balance per currency (made on first use) or a
credit line the operator grants; one guarded ledger account each (see domain/funding.py).

An order names its source (`fs_...`) or takes the default for its currency: the source marked
default, else the prepaid balance. The credit line's limit is kept twice, on the source row and
in the ledger (a `credit_limit` transfer from the operator's `credit` account per change), and
both change in one transaction; `ledger verify` checks that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from giftwell.domain.errors import NotFound, ValidationFailed
from giftwell.domain.funding import SourceKind, SourceState
from giftwell.domain.ids import new_id
from giftwell.services.ledger import accounts as ledger_accounts
from giftwell.store.models import FundingSource, LedgerAccount
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    account_id: str
    kind: SourceKind
    currency: str
    ledger_account_id: str
    default: bool
    state: SourceState
    created_at: datetime

    @property
    def credit_limit(self) -> int | None:
        return self.state.limit


_COLUMNS = (
    FundingSource.id,
    FundingSource.account_id,
    FundingSource.kind,
    FundingSource.currency,
    FundingSource.ledger_account_id,
    FundingSource.credit_limit,
    FundingSource.is_default,
    FundingSource.created_at,
    LedgerAccount.balance,
    LedgerAccount.pending_out,
)


def _source(r: Any, *, default: bool) -> Source:
    kind = SourceKind(r.kind)
    state = SourceState(
        kind, int(r.balance), int(r.pending_out), None if r.credit_limit is None else int(r.credit_limit)
    )
    return Source(r.id, r.account_id, kind, r.currency, r.ledger_account_id, default, state, r.created_at)


def _select() -> Any:
    return sa.select(*_COLUMNS).join(LedgerAccount, LedgerAccount.id == FundingSource.ledger_account_id)


async def list_sources(uow: UnitOfWork, *, account_id: str) -> list[Source]:
    """The account's funding sources, by currency then kind (prepaid first). `default` marks,
    per currency, the source an order uses when it names none."""
    rows = (
        await uow.conn.execute(
            _select()
            .where(FundingSource.account_id == account_id)
            .order_by(FundingSource.currency, FundingSource.kind.desc())
        )
    ).all()
    marked = {r.currency for r in rows if r.is_default}
    return [_source(r, default=bool(r.is_default) or (r.currency not in marked and r.kind == "prepaid")) for r in rows]


async def get_source(uow: UnitOfWork, *, account_id: str, source_id: str, param: str = "funding_source") -> Source:
    """The account's source `source_id`; another account's is `NotFound` like an unknown one."""
    row = (
        await uow.conn.execute(_select().where(FundingSource.id == source_id, FundingSource.account_id == account_id))
    ).first()
    if row is None:
        raise NotFound("no such funding source", param=param)
    effective = await default_for(uow, account_id=account_id, currency=row.currency)
    return _source(row, default=effective == row.id)


async def ensure(
    uow: UnitOfWork, *, account_id: str, kind: SourceKind, currency: str, ledger_account_id: str, limit: int | None
) -> str:
    """The id of the source over `ledger_account_id`, its row made on first use."""
    values = {
        "id": new_id("fs"),
        "account_id": account_id,
        "kind": kind.value,
        "currency": currency,
        "ledger_account_id": ledger_account_id,
        "credit_limit": limit,
        "is_default": False,
        "created_at": uow.now,
        "updated_at": uow.now,
    }
    ins = (postgresql.insert if uow.dialect == "postgresql" else sqlite.insert)(FundingSource).values(**values)
    await uow.conn.execute(ins.on_conflict_do_nothing(index_elements=["ledger_account_id"]))
    found = await uow.conn.scalar(
        sa.select(FundingSource.id).where(FundingSource.ledger_account_id == ledger_account_id)
    )
    assert found is not None
    return str(found)


async def prepaid(uow: UnitOfWork, *, account_id: str, currency: str) -> Source:
    """The account's prepaid balance in `currency`, made (empty) on first use."""
    la = await ledger_accounts.funding_account(uow, account_id=account_id, currency=currency)
    source_id = await ensure(
        uow, account_id=account_id, kind=SourceKind.PREPAID, currency=currency, ledger_account_id=la, limit=None
    )
    return await get_source(uow, account_id=account_id, source_id=source_id)


async def for_order(uow: UnitOfWork, *, account_id: str, currency: str, source_id: str | None) -> Source:
    """The source an order in `currency` pays from: `source_id` (the caller's, in that currency),
    else the default for the currency, else the prepaid balance."""
    if source_id is not None:
        # Another account's source is NotFound like an unknown one (404 naming `funding_source`).
        found = await get_source(uow, account_id=account_id, source_id=source_id)
        if found.currency != currency:
            raise ValidationFailed(
                f"funding source {found.id} is in {found.currency}; this order is in {currency}",
                param="funding_source",
                rule="currency",
                currency=found.currency,
            )
        return found
    marked = await uow.conn.scalar(
        sa.select(FundingSource.id).where(
            FundingSource.account_id == account_id, FundingSource.currency == currency, FundingSource.is_default
        )
    )
    if marked is not None:
        return await get_source(uow, account_id=account_id, source_id=str(marked))
    return await prepaid(uow, account_id=account_id, currency=currency)


async def default_for(uow: UnitOfWork, *, account_id: str, currency: str) -> str | None:
    """The id of the source orders in `currency` use when they name none, if it exists yet."""
    rows = (
        await uow.conn.execute(
            sa.select(FundingSource.id, FundingSource.kind, FundingSource.is_default).where(
                FundingSource.account_id == account_id, FundingSource.currency == currency
            )
        )
    ).all()
    marked = [r.id for r in rows if r.is_default]
    prepaid_ids = [r.id for r in rows if r.kind == SourceKind.PREPAID.value]
    found = marked or prepaid_ids
    return str(found[0]) if found else None


async def set_default(uow: UnitOfWork, *, account_id: str, currency: str, source_id: str | None) -> None:
    """Make `source_id` the default for its currency (None: back to the prepaid balance)."""
    mine = sa.and_(FundingSource.account_id == account_id, FundingSource.currency == currency)
    await uow.conn.execute(sa.update(FundingSource).where(mine, FundingSource.is_default).values(is_default=False))
    if source_id is not None:
        await uow.conn.execute(
            sa.update(FundingSource).where(mine, FundingSource.id == source_id).values(is_default=True)
        )
