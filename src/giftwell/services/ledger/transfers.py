"""The ledger: the one place where balances change.

Every balance change is a guarded UPDATE of the ledger account row, taken in a fixed order
(ascending account id; cards before transfers before ledger accounts across tables), followed by
the insert of the immutable transfer. A guarded UPDATE checks and changes in one statement, so
there is no read-then-write in application code: under any concurrency either the row still
satisfies the guard and changes, or nothing changes and the caller is told which leg refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from giftwell.domain.errors import NotFound, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.domain.ledger import (
    MAX_BALANCE,
    Side,
    Transfer,
    TransferKind,
    TransferStatus,
    require_positive,
)
from giftwell.store.models import LedgerAccount
from giftwell.store.models import Transfer as TransferRow
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a transfer. `guarded` legs keep a running balance; `require` is an extra SQL
    condition the UPDATE must satisfy (the card still usable, for instance)."""

    account_id: str
    guarded: bool
    # Built once with bind parameters (see `cards.usable`); `params` gives their values.
    require: sa.ColumnElement[bool] | None = None
    params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class AccountState:
    balance: int
    pending_out: int

    @property
    def available(self) -> int:
        return self.balance - self.pending_out


@dataclass(frozen=True, slots=True)
class Posting:
    """A transfer and the state of each guarded leg right after it (None for system legs)."""

    transfer: Transfer
    debit: AccountState | None
    credit: AccountState | None


class LegRefused(Exception):
    """A guarded update matched no row: not enough available funds, a credit past `MAX_BALANCE`,
    or `require` failed."""

    def __init__(self, side: Side) -> None:
        super().__init__(side.value)
        self.side = side


_MOVES: dict[tuple[bool, bool, int], tuple[sa.ColumnElement[bool] | None, sa.Update]] = {}


def _move_statement(check_available: bool, check_ceiling: bool, require: sa.ColumnElement[bool] | None) -> sa.Update:
    """The guarded UPDATE for one shape of leg, built once: building a statement costs more than
    running it, and this is every redemption's hot path."""
    key = (check_available, check_ceiling, id(require))
    cached = _MOVES.get(key)
    if cached is not None and cached[0] is require:
        return cached[1]
    conds: list[sa.ColumnElement[bool]] = [LedgerAccount.id == sa.bindparam("la_id")]
    if check_available:
        # available after the change must stay >= 0: balance + delta - (pending_out + pending_delta) >= 0
        conds.append(LedgerAccount.balance - LedgerAccount.pending_out >= sa.bindparam("need"))
    if check_ceiling:
        # balance + delta <= MAX_BALANCE, so that no run of credits overflows the 64-bit column
        conds.append(LedgerAccount.balance <= sa.bindparam("room"))
    if require is not None:
        conds.append(require)
    stmt = (
        sa.update(LedgerAccount)
        .where(*conds)
        .values(
            balance=LedgerAccount.balance + sa.bindparam("delta"),
            pending_out=LedgerAccount.pending_out + sa.bindparam("pending_delta"),
        )
        .returning(LedgerAccount.balance, LedgerAccount.pending_out)
    )
    _MOVES[key] = (require, stmt)
    return stmt


async def move_leg(
    uow: UnitOfWork, leg: Leg, delta: int, *, side: Side, pending_delta: int = 0, check_available: bool
) -> AccountState | None:
    """Apply `delta` to a leg's balance (and `pending_delta` to its holds), guarded; the new balance."""
    if not leg.guarded:
        return None
    params: dict[str, Any] = {"la_id": leg.account_id, "delta": delta, "pending_delta": pending_delta}
    if check_available:
        params["need"] = -(delta - pending_delta)
    check_ceiling = delta > 0
    if check_ceiling:
        params["room"] = MAX_BALANCE - delta
    params.update(leg.params)
    row = (await uow.conn.execute(_move_statement(check_available, check_ceiling, leg.require), params)).first()
    if row is None:
        raise LegRefused(side)
    return AccountState(int(row.balance), int(row.pending_out))


async def post(
    uow: UnitOfWork,
    *,
    account_id: str,
    kind: TransferKind,
    currency: str,
    amount: int,
    debit: Leg,
    credit: Leg,
    card_id: str | None = None,
    counterparty_card_id: str | None = None,
    reference: str | None = None,
    reason: str | None = None,
    refund_of: str | None = None,
) -> Posting:
    """Post `amount` from `debit` to `credit` at once. Raises `LegRefused` when a guard fails."""
    require_positive(amount)
    after: dict[Side, AccountState | None] = {}
    for side, leg in sorted(((Side.DEBIT, debit), (Side.CREDIT, credit)), key=lambda p: p[1].account_id):
        delta = -amount if side is Side.DEBIT else amount
        after[side] = await move_leg(uow, leg, delta, side=side, check_available=side is Side.DEBIT)
    t = await insert_transfer(
        uow,
        account_id=account_id,
        kind=kind,
        status=TransferStatus.POSTED,
        currency=currency,
        amount=amount,
        debit=debit,
        credit=credit,
        card_id=card_id,
        counterparty_card_id=counterparty_card_id,
        debit_after=balance_of(after[Side.DEBIT]),
        credit_after=balance_of(after[Side.CREDIT]),
        reference=reference,
        reason=reason,
        refund_of=refund_of,
        posted_at=uow.now,
    )
    return Posting(t, after[Side.DEBIT], after[Side.CREDIT])


def balance_of(state: AccountState | None) -> int | None:
    return None if state is None else state.balance


async def hold(
    uow: UnitOfWork,
    *,
    account_id: str,
    kind: TransferKind,
    currency: str,
    amount: int,
    debit: Leg,
    credit: Leg,
    ttl: timedelta,
    card_id: str | None = None,
    reference: str | None = None,
) -> Posting:
    """Reserve `amount` on `debit` as a pending transfer that expires after `ttl`."""
    require_positive(amount)
    if ttl <= timedelta(0):
        raise ValidationFailed("hold TTL must be positive", param="hold_ttl_seconds")
    state = await move_leg(uow, debit, 0, side=Side.DEBIT, pending_delta=amount, check_available=True)
    t = await insert_transfer(
        uow,
        account_id=account_id,
        kind=kind,
        status=TransferStatus.PENDING,
        currency=currency,
        amount=amount,
        debit=debit,
        credit=credit,
        card_id=card_id,
        counterparty_card_id=None,
        debit_after=balance_of(state),
        credit_after=None,
        reference=reference,
        reason=None,
        refund_of=None,
        posted_at=None,
        hold_amount=amount,
        expires_at=uow.now + ttl,
    )
    return Posting(t, state, None)


async def insert_transfer(
    uow: UnitOfWork,
    *,
    account_id: str,
    kind: TransferKind,
    status: TransferStatus,
    currency: str,
    amount: int,
    debit: Leg,
    credit: Leg,
    card_id: str | None,
    counterparty_card_id: str | None,
    debit_after: int | None,
    credit_after: int | None,
    reference: str | None,
    reason: str | None,
    refund_of: str | None,
    posted_at: datetime | None,
    hold_amount: int | None = None,
    expires_at: datetime | None = None,
) -> Transfer:
    t = Transfer(
        id=new_id("trf"),
        account_id=account_id,
        kind=kind,
        status=status,
        currency=currency,
        amount=amount,
        debit_account_id=debit.account_id,
        credit_account_id=credit.account_id,
        card_id=card_id,
        counterparty_card_id=counterparty_card_id,
        debit_balance_after=debit_after,
        credit_balance_after=credit_after,
        hold_amount=hold_amount,
        expires_at=expires_at,
        refund_of=refund_of,
        refunded_amount=0,
        reference=reference,
        reason=reason,
        created_at=uow.now,
        posted_at=posted_at,
    )
    await uow.conn.execute(
        _INSERT_TRANSFER,
        {
            "id": t.id,
            "account_id": t.account_id,
            "kind": t.kind.value,
            "status": t.status.value,
            "currency": t.currency,
            "amount": t.amount,
            "debit_account_id": t.debit_account_id,
            "credit_account_id": t.credit_account_id,
            "card_id": t.card_id,
            "counterparty_card_id": t.counterparty_card_id,
            "debit_balance_after": t.debit_balance_after,
            "credit_balance_after": t.credit_balance_after,
            "hold_amount": t.hold_amount,
            "expires_at": t.expires_at,
            "refund_of": t.refund_of,
            "refunded_amount": 0,
            "reference": t.reference,
            "reason": t.reason,
            "created_at": t.created_at,
            "posted_at": t.posted_at,
        },
    )
    return t


_INSERT_TRANSFER = sa.insert(TransferRow)


def transfer_from_row(r: Row[Any] | Any) -> Transfer:
    return Transfer(
        id=r.id,
        account_id=r.account_id,
        kind=TransferKind(r.kind),
        status=TransferStatus(r.status),
        currency=r.currency,
        amount=int(r.amount),
        debit_account_id=r.debit_account_id,
        credit_account_id=r.credit_account_id,
        card_id=r.card_id,
        counterparty_card_id=r.counterparty_card_id,
        debit_balance_after=r.debit_balance_after,
        credit_balance_after=r.credit_balance_after,
        hold_amount=r.hold_amount,
        expires_at=r.expires_at,
        refund_of=r.refund_of,
        refunded_amount=int(r.refunded_amount),
        reference=r.reference,
        reason=r.reason,
        created_at=r.created_at,
        posted_at=r.posted_at,
    )


async def get(uow: UnitOfWork, *, account_id: str, transfer_id: str) -> Transfer:
    row = (
        await uow.conn.execute(
            sa.select(TransferRow).where(TransferRow.id == transfer_id, TransferRow.account_id == account_id)
        )
    ).first()
    if row is None:
        raise NotFound("no such transfer", param="transfer")
    return transfer_from_row(row)
