"""The ledger: the one place where balances change.

Every balance change is a guarded UPDATE of the ledger account row, taken in a fixed order
(ascending account id; cards before transfers before ledger accounts across tables), followed by
the insert of the immutable transfer. A guarded UPDATE checks and changes in one statement, so
there is no read-then-write in application code: under any concurrency either the row still
satisfies the guard and changes, or nothing changes and the caller is told which leg refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row

from giftwell.domain.errors import InvalidState, NotFound, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.domain.ledger import (
    MAX_BALANCE,
    AccountKind,
    Side,
    Transfer,
    TransferKind,
    TransferStatus,
    partial_capture,
    refundable,
    require_positive,
)
from giftwell.store.models import LedgerAccount
from giftwell.store.models import Transfer as TransferRow
from giftwell.store.uow import UnitOfWork

LA = LedgerAccount
TR = TransferRow


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


async def open_account(uow: UnitOfWork, *, account_id: str, kind: AccountKind, currency: str) -> str:
    """A new guarded ledger account with a zero balance (a card's or a funding account)."""
    la_id = new_id("la")
    await uow.conn.execute(
        sa.insert(LA).values(
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
    ins = (pg_insert if uow.dialect == "postgresql" else sqlite_insert)(LA).values(**values)
    await uow.conn.execute(
        ins.on_conflict_do_nothing(
            index_elements=["account_id", "kind", "currency"], index_where=sa.text("kind NOT IN ('card')")
        )
    )
    la_id = (
        await uow.conn.execute(
            sa.select(LA.id).where(LA.account_id == account_id, LA.kind == kind.value, LA.currency == currency)
        )
    ).scalar_one()
    # Cached only once this transaction commits: a rolled-back insert must not leave a ghost id.
    uow.after_commit(lambda: _remember(cache, key, la_id))
    return str(la_id)


async def _remember(cache: dict[tuple[str, str, str], str], key: tuple[str, str, str], la_id: str) -> None:
    cache[key] = la_id


_MOVES: dict[tuple[bool, bool, int], tuple[sa.ColumnElement[bool] | None, sa.Update]] = {}


def _move_statement(check_available: bool, check_ceiling: bool, require: sa.ColumnElement[bool] | None) -> sa.Update:
    """The guarded UPDATE for one shape of leg, built once: building a statement costs more than
    running it, and this is every redemption's hot path."""
    key = (check_available, check_ceiling, id(require))
    cached = _MOVES.get(key)
    if cached is not None and cached[0] is require:
        return cached[1]
    conds: list[sa.ColumnElement[bool]] = [LA.id == sa.bindparam("la_id")]
    if check_available:
        # available after the change must stay >= 0: balance + delta - (pending_out + pending_delta) >= 0
        conds.append(LA.balance - LA.pending_out >= sa.bindparam("need"))
    if check_ceiling:
        # balance + delta <= MAX_BALANCE, so that no run of credits overflows the 64-bit column
        conds.append(LA.balance <= sa.bindparam("room"))
    if require is not None:
        conds.append(require)
    stmt = (
        sa.update(LA)
        .where(*conds)
        .values(balance=LA.balance + sa.bindparam("delta"), pending_out=LA.pending_out + sa.bindparam("pending_delta"))
        .returning(LA.balance, LA.pending_out)
    )
    _MOVES[key] = (require, stmt)
    return stmt


async def _move(
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
        after[side] = await _move(uow, leg, delta, side=side, check_available=side is Side.DEBIT)
    t = await _insert(
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
        debit_after=_bal(after[Side.DEBIT]),
        credit_after=_bal(after[Side.CREDIT]),
        reference=reference,
        reason=reason,
        refund_of=refund_of,
        posted_at=uow.now,
    )
    return Posting(t, after[Side.DEBIT], after[Side.CREDIT])


def _bal(state: AccountState | None) -> int | None:
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
    state = await _move(uow, debit, 0, side=Side.DEBIT, pending_delta=amount, check_available=True)
    t = await _insert(
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
        debit_after=_bal(state),
        credit_after=None,
        reference=reference,
        reason=None,
        refund_of=None,
        posted_at=None,
        hold_amount=amount,
        expires_at=uow.now + ttl,
    )
    return Posting(t, state, None)


async def capture(uow: UnitOfWork, *, account_id: str, transfer_id: str, amount: int | None = None) -> Posting:
    """Post a pending transfer, in full or in part; any remainder of the hold is released."""
    held = await get(uow, account_id=account_id, transfer_id=transfer_id)
    _require_open_hold(held, uow.now)
    assert held.hold_amount is not None
    captured = partial_capture(held.hold_amount, amount)
    claimed = await _claim_hold(uow, held, TransferStatus.POSTED, amount=captured)
    debit_after = await _move(
        uow,
        _leg_of(held.debit_account_id, held.debit_balance_after),
        -captured,
        side=Side.DEBIT,
        pending_delta=-claimed,
        check_available=False,
    )
    await uow.conn.execute(sa.update(TR).where(TR.id == held.id).values(debit_balance_after=_bal(debit_after)))
    return Posting(await get(uow, account_id=account_id, transfer_id=transfer_id), debit_after, None)


async def capture_part(
    uow: UnitOfWork,
    *,
    account_id: str,
    transfer_id: str,
    amount: int,
    card_id: str | None = None,
    reference: str | None = None,
) -> Posting:
    """Post `amount` of an open hold as a transfer of its own and keep the rest of the hold pending.

    For holds captured piece by piece (an order's reservation, charged batch by batch as its
    cards are issued). The hold shrinks by `amount` in one guarded UPDATE (`status = 'pending'
    AND amount > :amount`), so concurrent captures can never together take more than was held;
    the debit account's balance and `pending_out` both fall by `amount`, leaving its available
    balance unchanged. A pending hold's `amount` and `hold_amount` are both "what is still
    reserved", so `void` and `capture` of the remainder, and `verify`, keep working unchanged.
    Capturing exactly what remains posts the hold itself, as `capture` does.
    """
    require_positive(amount)
    held = await get(uow, account_id=account_id, transfer_id=transfer_id)
    _require_open_hold(held, uow.now)
    res = await uow.conn.execute(
        sa.update(TR)
        .where(
            TR.id == held.id,
            TR.status == TransferStatus.PENDING.value,
            TR.expires_at > uow.now,
            TR.amount > amount,
        )
        .values(amount=TR.amount - amount, hold_amount=TR.hold_amount - amount)
        .returning(TR.id)
    )
    if res.scalar_one_or_none() is None:
        fresh = await get(uow, account_id=account_id, transfer_id=transfer_id)
        _require_open_hold(fresh, uow.now)
        if fresh.amount != amount:
            raise ValidationFailed(f"capture amount exceeds the held amount ({fresh.amount})", param="amount")
        return await capture(uow, account_id=account_id, transfer_id=transfer_id, amount=amount)
    debit = _leg_of(held.debit_account_id, held.debit_balance_after)
    state = await _move(uow, debit, -amount, side=Side.DEBIT, pending_delta=-amount, check_available=False)
    t = await _insert(
        uow,
        account_id=account_id,
        kind=held.kind,
        status=TransferStatus.POSTED,
        currency=held.currency,
        amount=amount,
        debit=debit,
        credit=Leg(held.credit_account_id, guarded=False),
        card_id=card_id,
        counterparty_card_id=None,
        debit_after=_bal(state),
        credit_after=None,
        reference=reference if reference is not None else held.reference,
        reason=None,
        refund_of=None,
        posted_at=uow.now,
    )
    return Posting(t, state, None)


def _leg_of(account_id: str, balance_after: int | None) -> Leg:
    # A hold's debit leg was guarded exactly when the hold recorded a balance for it.
    return Leg(account_id, guarded=balance_after is not None)


async def void(uow: UnitOfWork, *, account_id: str, transfer_id: str, reason: str | None = None) -> Posting:
    """Release a pending transfer without moving money."""
    held = await get(uow, account_id=account_id, transfer_id=transfer_id)
    if held.status is not TransferStatus.PENDING:
        raise _not_pending(held)
    claimed = await _claim_hold(uow, held, TransferStatus.VOIDED, amount=None, reason=reason, check_expiry=False)
    state = await _move(
        uow,
        _leg_of(held.debit_account_id, held.debit_balance_after),
        0,
        side=Side.DEBIT,
        pending_delta=-claimed,
        check_available=False,
    )
    return Posting(await get(uow, account_id=account_id, transfer_id=transfer_id), state, None)


async def refund(uow: UnitOfWork, *, account_id: str, transfer_id: str, amount: int | None, credit: Leg) -> Posting:
    """Return part or all of a posted redemption to where it came from, never more than redeemed."""
    original = await get(uow, account_id=account_id, transfer_id=transfer_id)
    if original.kind is not TransferKind.REDEEM or original.status is not TransferStatus.POSTED:
        raise ValidationFailed("only a posted redemption can be refunded", param="transfer")
    wanted = refundable(original.amount, original.refunded_amount, amount)
    # Guarded counter: two concurrent refunds can never together exceed the redeemed amount.
    res = await uow.conn.execute(
        sa.update(TR)
        .where(TR.id == original.id, TR.status == TransferStatus.POSTED.value, TR.amount - TR.refunded_amount >= wanted)
        .values(refunded_amount=TR.refunded_amount + wanted)
        .returning(TR.id)
    )
    if res.scalar_one_or_none() is None:
        fresh = await get(uow, account_id=account_id, transfer_id=transfer_id)
        refundable(fresh.amount, fresh.refunded_amount, wanted)
        raise ValidationFailed("refund exceeds the refundable amount", param="amount")  # pragma: no cover
    return await post(
        uow,
        account_id=account_id,
        kind=TransferKind.REFUND,
        currency=original.currency,
        amount=wanted,
        debit=_leg_of(original.credit_account_id, original.credit_balance_after),
        credit=credit,
        card_id=original.card_id,
        refund_of=original.id,
        reference=original.reference,
    )


async def _claim_hold(
    uow: UnitOfWork,
    held: Transfer,
    status: TransferStatus,
    *,
    amount: int | None,
    reason: str | None = None,
    check_expiry: bool = True,
) -> int:
    """Resolve a hold exactly once; returns the amount that was held. Raises if it was resolved first."""
    conds = [TR.id == held.id, TR.status == TransferStatus.PENDING.value]
    if check_expiry:
        conds.append(TR.expires_at > uow.now)
    values: dict[str, Any] = {"status": status.value, "posted_at": uow.now}
    if amount is not None:
        values["amount"] = amount
    if reason is not None:
        values["reason"] = reason
    res = await uow.conn.execute(sa.update(TR).where(*conds).values(**values).returning(TR.hold_amount))
    got = res.scalar_one_or_none()
    if got is None:
        fresh = await get(uow, account_id=held.account_id, transfer_id=held.id)
        _require_open_hold(fresh, uow.now)
        raise _not_pending(fresh)  # pragma: no cover - _require_open_hold raised
    return int(got)


def _require_open_hold(t: Transfer, now: datetime) -> None:
    if t.status is not TransferStatus.PENDING:
        raise _not_pending(t)
    if t.expires_at is not None and t.expires_at <= now:
        raise InvalidState("the hold has expired", param="transfer")


def _not_pending(t: Transfer) -> Exception:
    return InvalidState(f"transfer is {t.status.value}, not pending", param="transfer")


async def _insert(
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


_INSERT_TRANSFER = sa.insert(TR)


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
    row = (await uow.conn.execute(sa.select(TR).where(TR.id == transfer_id, TR.account_id == account_id))).first()
    if row is None:
        raise NotFound("no such transfer", param="transfer")
    return transfer_from_row(row)


async def expired_holds(uow: UnitOfWork, *, limit: int = 500) -> Sequence[tuple[str, str]]:
    """(account_id, transfer_id) of pending transfers past their expiry, oldest first."""
    rows = await uow.conn.execute(
        sa.select(TR.account_id, TR.id)
        .where(TR.status == TransferStatus.PENDING.value, TR.expires_at <= uow.now)
        # The id breaks ties so that concurrent sweepers lock holds in the same order.
        .order_by(TR.expires_at, TR.id)
        .limit(limit)
    )
    return [(r.account_id, r.id) for r in rows]
