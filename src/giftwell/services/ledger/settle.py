"""Settling what a transfer left open: holds captured (in full, in part, or piece by piece) or voided,
and posted redemptions refunded. Each resolution is a guarded UPDATE, so it happens exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain.errors import InvalidState, ValidationFailed
from giftwell.domain.ledger import (
    Side,
    Transfer,
    TransferKind,
    TransferStatus,
    partial_capture,
    refundable,
    require_positive,
)
from giftwell.services.ledger.transfers import (
    Leg,
    Posting,
    balance_of,
    get,
    insert_transfer,
    move_leg,
    post,
)
from giftwell.store.models import Transfer as TransferRow
from giftwell.store.uow import UnitOfWork


async def capture(uow: UnitOfWork, *, account_id: str, transfer_id: str, amount: int | None = None) -> Posting:
    """Post a pending transfer, in full or in part; any remainder of the hold is released."""
    held = await get(uow, account_id=account_id, transfer_id=transfer_id)
    _require_open_hold(held, uow.now)
    assert held.hold_amount is not None
    captured = partial_capture(held.hold_amount, amount)
    claimed = await _claim_hold(uow, held, TransferStatus.POSTED, amount=captured)
    debit_after = await move_leg(
        uow,
        _leg_of(held.debit_account_id, held.debit_balance_after),
        -captured,
        side=Side.DEBIT,
        pending_delta=-claimed,
        check_available=False,
    )
    await uow.conn.execute(
        sa.update(TransferRow).where(TransferRow.id == held.id).values(debit_balance_after=balance_of(debit_after))
    )
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
        sa.update(TransferRow)
        .where(
            TransferRow.id == held.id,
            TransferRow.status == TransferStatus.PENDING.value,
            TransferRow.expires_at > uow.now,
            TransferRow.amount > amount,
        )
        .values(amount=TransferRow.amount - amount, hold_amount=TransferRow.hold_amount - amount)
        .returning(TransferRow.id)
    )
    if res.scalar_one_or_none() is None:
        fresh = await get(uow, account_id=account_id, transfer_id=transfer_id)
        _require_open_hold(fresh, uow.now)
        if fresh.amount != amount:
            raise ValidationFailed(f"capture amount exceeds the held amount ({fresh.amount})", param="amount")
        return await capture(uow, account_id=account_id, transfer_id=transfer_id, amount=amount)
    debit = _leg_of(held.debit_account_id, held.debit_balance_after)
    state = await move_leg(uow, debit, -amount, side=Side.DEBIT, pending_delta=-amount, check_available=False)
    t = await insert_transfer(
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
        debit_after=balance_of(state),
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
    state = await move_leg(
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
        sa.update(TransferRow)
        .where(
            TransferRow.id == original.id,
            TransferRow.status == TransferStatus.POSTED.value,
            TransferRow.amount - TransferRow.refunded_amount >= wanted,
        )
        .values(refunded_amount=TransferRow.refunded_amount + wanted)
        .returning(TransferRow.id)
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
    conds = [TransferRow.id == held.id, TransferRow.status == TransferStatus.PENDING.value]
    if check_expiry:
        conds.append(TransferRow.expires_at > uow.now)
    values: dict[str, Any] = {"status": status.value, "posted_at": uow.now}
    if amount is not None:
        values["amount"] = amount
    if reason is not None:
        values["reason"] = reason
    res = await uow.conn.execute(
        sa.update(TransferRow).where(*conds).values(**values).returning(TransferRow.hold_amount)
    )
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


async def expired_holds(uow: UnitOfWork, *, limit: int = 500) -> Sequence[tuple[str, str]]:
    """(account_id, transfer_id) of pending transfers past their expiry, oldest first."""
    rows = await uow.conn.execute(
        sa.select(TransferRow.account_id, TransferRow.id)
        .where(TransferRow.status == TransferStatus.PENDING.value, TransferRow.expires_at <= uow.now)
        # The id breaks ties so that concurrent sweepers lock holds in the same order.
        .order_by(TransferRow.expires_at, TransferRow.id)
        .limit(limit)
    )
    return [(r.account_id, r.id) for r in rows]
