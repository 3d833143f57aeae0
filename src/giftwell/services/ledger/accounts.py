"""Ledger accounts: a guarded account per card or funding balance, and the system accounts (issuance,
redemption, breakage, adjustment, sales) created on first use and cached once committed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from giftwell.domain.ids import new_id
from giftwell.domain.ledger import PER_OBJECT_KINDS_SQL, AccountKind
from giftwell.store.models import LedgerAccount
from giftwell.store.uow import UnitOfWork


async def open_account(uow: UnitOfWork, *, account_id: str, kind: AccountKind, currency: str) -> str:
    """A new guarded ledger account with a zero balance (a card's or a funding account)."""
    la_id = new_id("la")
    await uow.conn.execute(
        sa.insert(LedgerAccount).values(
            id=la_id,
            account_id=account_id,
            kind=kind.value,
            currency=currency,
            balance=0,
            pending_out=0,
            created_at=uow.now,
        )
    )
    return la_id


async def system_account(uow: UnitOfWork, *, account_id: str, kind: AccountKind, currency: str) -> str:
    """The system account of `kind` for an issuer and currency, created on first use."""
    return await _singleton(uow, account_id=account_id, kind=kind, currency=currency)


async def funding_account(uow: UnitOfWork, *, account_id: str, currency: str) -> str:
    """An account's prepaid funding balance in `currency` (guarded, one per account and currency),
    created empty on first use."""
    return await _singleton(uow, account_id=account_id, kind=AccountKind.FUNDING, currency=currency)


async def credit_line_account(uow: UnitOfWork, *, account_id: str, currency: str) -> str:
    """An account's credit line in `currency` (guarded: the credit still unused), created empty on
    first use; its limit is posted into it (see services/funding/credit.py)."""
    return await _singleton(uow, account_id=account_id, kind=AccountKind.CREDIT_LINE, currency=currency)


async def _singleton(uow: UnitOfWork, *, account_id: str, kind: AccountKind, currency: str) -> str:
    key = (account_id, kind.value, currency)
    cache = uow.rt.system_accounts
    if key in cache:
        return cache[key]
    values: dict[str, Any] = {
        "id": new_id("la"),
        "account_id": account_id,
        "kind": kind.value,
        "currency": currency,
        # Guarded kinds keep a running balance; system kinds derive theirs from the transfers.
        "balance": 0 if kind.guarded else None,
        "pending_out": 0,
        "created_at": uow.now,
    }
    ins = (pg_insert if uow.dialect == "postgresql" else sqlite_insert)(LedgerAccount).values(**values)
    await uow.conn.execute(
        ins.on_conflict_do_nothing(
            index_elements=["account_id", "kind", "currency"], index_where=sa.text(PER_OBJECT_KINDS_SQL)
        )
    )
    la_id = (
        await uow.conn.execute(
            sa.select(LedgerAccount.id).where(
                LedgerAccount.account_id == account_id,
                LedgerAccount.kind == kind.value,
                LedgerAccount.currency == currency,
            )
        )
    ).scalar_one()
    # Cached only once this transaction commits: a rolled-back insert must not leave a ghost id.
    uow.after_commit(lambda: _remember(cache, key, la_id))
    return str(la_id)


async def _remember(cache: dict[tuple[str, str, str], str], key: tuple[str, str, str], la_id: str) -> None:
    cache[key] = la_id
