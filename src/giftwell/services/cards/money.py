"""Money movements on cards: activate, reload, redeem (now or as a hold), capture, void, refund,
card-to-card transfer, adjustment, and expiry into breakage.

Each checks the card first to give a precise error early, then moves money through
`services.ledger`, whose guarded UPDATE re-checks the card's state in the same statement. When a
guard refuses, `_explain` re-reads the card and raises the error that applies now.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa

from giftwell.domain.cards import Card, CardAction, CardStatus, next_status, past_date, require_usable
from giftwell.domain.errors import (
    CurrencyMismatch,
    GiftwellError,
    InsufficientFunds,
    TestCardRefused,
    ValidationFailed,
)
from giftwell.domain.ledger import (
    MAX_BALANCE,
    AccountKind,
    Side,
    Transfer,
    TransferKind,
    card_posting,
    require_positive,
)
from giftwell.services import audit, events
from giftwell.services.cards import reads as cards
from giftwell.services.cards import redeem_fast
from giftwell.services.ledger import accounts as ledger_accounts
from giftwell.services.ledger import settle, transfers
from giftwell.services.ledger.transfers import AccountState, Leg, LegRefused
from giftwell.store.models import Card as CardRow
from giftwell.store.uow import UnitOfWork
from giftwell.telemetry import metrics

MAX_HOLD_TTL = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Movement:
    """A transfer and the card it concerns, as the card stands right after it."""

    transfer: Transfer
    card: Card


def _after(card: Card, state: AccountState | None) -> Card:
    if state is None:
        return card
    return replace(card, balance=state.balance, available=state.available)


async def _explain(
    uow: UnitOfWork,
    card: Card,
    amount: int,
    statuses: tuple[CardStatus, ...] = (CardStatus.ACTIVE,),
    *,
    side: Side = Side.DEBIT,
) -> None:
    """Raise the error that explains why a guarded update on `card` matched nothing: the card's
    state when it no longer admits the movement (`statuses`, not past expiry); else, on the
    credited side, the balance ceiling, and on the debited side its funds."""
    fresh = await cards.get(uow, account_id=card.account_id, card_id=card.id)
    # A blocked card admits adjustments: refusing one for want of funds is not "card is blocked".
    if fresh.status not in statuses or past_date(fresh.expires_at, uow.now):
        require_usable(fresh.status, fresh.expires_at, uow.now)
    if side is Side.CREDIT:
        raise ValidationFailed(
            f"the card's balance may not exceed {MAX_BALANCE}", param="amount", rule="max_balance", max=MAX_BALANCE
        )
    raise InsufficientFunds(
        f"insufficient funds: available {fresh.available}, requested {amount}",
        param="amount",
        balance=fresh.balance,
        available=fresh.available,
        currency=fresh.currency,
    )


async def _system(uow: UnitOfWork, card: Card, kind: AccountKind) -> Leg:
    la = await ledger_accounts.system_account(uow, account_id=card.account_id, kind=kind, currency=card.currency)
    return Leg(la, guarded=False)


def _card_leg(card: Card, now: datetime, statuses: tuple[CardStatus, ...] = (CardStatus.ACTIVE,)) -> Leg:
    require, params = cards.usable(card.id, now, statuses)
    return Leg(card.ledger_account_id, guarded=True, require=require, params=params)


async def _post_card(
    uow: UnitOfWork,
    card: Card,
    kind: TransferKind,
    amount: int,
    *,
    signed: int | None = None,
    statuses: tuple[CardStatus, ...] = (CardStatus.ACTIVE,),
    reference: str | None = None,
    reason: str | None = None,
) -> Movement:
    rule = card_posting(kind, signed_amount=signed)
    system = await _system(uow, card, rule.system)
    mine = _card_leg(card, uow.now, statuses)
    debit, credit = (mine, system) if rule.card_side is Side.DEBIT else (system, mine)
    try:
        p = await transfers.post(
            uow,
            account_id=card.account_id,
            kind=kind,
            currency=card.currency,
            amount=amount,
            debit=debit,
            credit=credit,
            card_id=card.id,
            reference=reference,
            reason=reason,
        )
    except LegRefused as refused:
        await _explain(uow, card, amount, statuses, side=refused.side)
        raise
    state = p.debit if rule.card_side is Side.DEBIT else p.credit
    return Movement(p.transfer, _after(card, state))


async def activate(uow: UnitOfWork, *, account_id: str, card_id: str, amount: int) -> Movement:
    """Activate an inactive card with a first value."""
    card = await cards.get(uow, account_id=account_id, card_id=card_id)
    require_positive(amount)
    next_status(CardAction.ACTIVATE, card.status, was_activated=card.activated_at is not None)
    if past_date(card.expires_at, uow.now):
        require_usable(CardStatus.EXPIRED, None, uow.now)
    res = await uow.conn.execute(
        sa.update(CardRow)
        .where(CardRow.id == card.id, CardRow.status == CardStatus.INACTIVE.value)
        .values(
            status=CardStatus.ACTIVE.value,
            activated_at=uow.now,
            updated_at=uow.now,
            initial_amount=CardRow.initial_amount + amount,
        )
        .returning(CardRow.id)
    )
    if res.first() is None:
        fresh = await cards.get(uow, account_id=account_id, card_id=card_id)
        next_status(CardAction.ACTIVATE, fresh.status, was_activated=fresh.activated_at is not None)
    active = await cards.get(uow, account_id=account_id, card_id=card_id)
    m = await _post_card(uow, active, TransferKind.ACTIVATE, amount)
    await events.record(
        uow,
        account_id=account_id,
        type="card.activated",
        subject_id=card.id,
        data={"card": card.id, "amount": amount, "currency": card.currency},
    )
    return m


async def reload(
    uow: UnitOfWork, *, account_id: str, card_id: str, amount: int, reference: str | None = None
) -> Movement:
    card = await cards.get(uow, account_id=account_id, card_id=card_id)
    require_positive(amount)
    require_usable(card.status, card.expires_at, uow.now)
    m = await _post_card(uow, card, TransferKind.RELOAD, amount, reference=reference)
    await events.record(
        uow,
        account_id=account_id,
        type="card.reloaded",
        subject_id=card.id,
        data={"card": card.id, "amount": amount, "currency": card.currency, "balance": m.card.balance},
    )
    return m


async def redeem(
    uow: UnitOfWork,
    *,
    account_id: str,
    card_id: str,
    amount: int,
    reference: str | None = None,
    capture: bool = True,
    hold_ttl: timedelta | None = None,
) -> Movement:
    """Take `amount` off a card at checkout. With `capture=False` the amount is only held (a
    pending transfer) until captured, voided, or expired after `hold_ttl` (default from settings).
    A test card (made by a test order) is refused with `test_card`: it must never buy anything."""
    if capture and amount > 0:
        # One statement (PostgreSQL) or one thread hop (SQLite) on the happy path; any refusal
        # takes the general path below to say why.
        done = await redeem_fast.redeem(uow, account_id=account_id, card_id=card_id, amount=amount, reference=reference)
        if done is not None:
            uow.after_commit(lambda: _count_redemption(done[1].currency, amount))
            return Movement(*done)
    card = await cards.get(uow, account_id=account_id, card_id=card_id)
    require_positive(amount)
    require_usable(card.status, card.expires_at, uow.now)
    if card.test:
        raise TestCardRefused("this is a test card: it cannot be redeemed", param="card")
    if capture:
        m = await _post_card(uow, card, TransferKind.REDEEM, amount, reference=reference)
    else:
        ttl = hold_ttl or timedelta(seconds=uow.rt.settings.hold_ttl_seconds)
        if ttl > MAX_HOLD_TTL:
            raise ValidationFailed(f"hold TTL may be at most {MAX_HOLD_TTL.days} days", param="hold_ttl_seconds")
        system = await _system(uow, card, AccountKind.REDEMPTION)
        try:
            p = await transfers.hold(
                uow,
                account_id=account_id,
                kind=TransferKind.REDEEM,
                currency=card.currency,
                amount=amount,
                debit=_card_leg(card, uow.now),
                credit=system,
                ttl=ttl,
                card_id=card.id,
                reference=reference,
            )
        except LegRefused:
            await _explain(uow, card, amount)
            raise
        m = Movement(p.transfer, _after(card, p.debit))
    uow.after_commit(lambda: _count_redemption(card.currency, amount))
    await events.record(
        uow,
        account_id=account_id,
        type="card.redeemed",
        subject_id=card.id,
        data={
            "card": card.id,
            "transfer": m.transfer.id,
            "amount": amount,
            "currency": card.currency,
            "status": m.transfer.status.value,
        },
    )
    return m


async def redeem_alone(
    uow: UnitOfWork, *, account_id: str, card_id: str, amount: int, reference: str | None
) -> Movement | None:
    """`redeem` (captured) as one statement committing on its own, in a read-only (autocommit)
    unit of work: no BEGIN and no COMMIT round trips (on SQLite, its own BEGIN IMMEDIATE and COMMIT
    in the same thread hop). None when it cannot be done that way (any refusal, an account with
    webhook endpoints): then run `redeem` in a transaction."""
    if amount <= 0:
        return None
    done = await redeem_fast.redeem(uow, account_id=account_id, card_id=card_id, amount=amount, reference=reference)
    if done is None:
        return None
    await _count_redemption(done[1].currency, amount)
    return Movement(*done)


async def _count_redemption(currency: str, amount: int) -> None:
    metrics.redeemed(currency, amount)


async def capture(uow: UnitOfWork, *, account_id: str, transfer_id: str, amount: int | None = None) -> Movement:
    p = await settle.capture(uow, account_id=account_id, transfer_id=transfer_id, amount=amount)
    return await _movement_for(uow, p.transfer, p.debit)


async def void(uow: UnitOfWork, *, account_id: str, transfer_id: str) -> Movement:
    p = await settle.void(uow, account_id=account_id, transfer_id=transfer_id)
    return await _movement_for(uow, p.transfer, p.debit)


async def refund(uow: UnitOfWork, *, account_id: str, transfer_id: str, amount: int | None = None) -> Movement:
    """Return a redemption (or part of it) to its card. The card must still be able to hold
    value (active or blocked); refunds never exceed what was redeemed and not yet refunded."""
    original = await transfers.get(uow, account_id=account_id, transfer_id=transfer_id)
    if original.card_id is None:
        raise ValidationFailed("only a card redemption can be refunded", param="transfer")
    card = await cards.get(uow, account_id=account_id, card_id=original.card_id)
    statuses = (CardStatus.ACTIVE, CardStatus.BLOCKED)
    if card.status not in statuses:
        require_usable(card.status, card.expires_at, uow.now)
    try:
        p = await settle.refund(
            uow,
            account_id=account_id,
            transfer_id=transfer_id,
            amount=amount,
            credit=_card_leg(card, uow.now, statuses),
        )
    except LegRefused as refused:
        await _explain(uow, card, amount or 0, statuses, side=refused.side)
        raise
    return Movement(p.transfer, _after(card, p.credit))


async def _movement_for(uow: UnitOfWork, t: Transfer, state: AccountState | None) -> Movement:
    if t.card_id is None:  # pragma: no cover - card transfers always name their card
        raise ValidationFailed("transfer has no card", param="transfer")
    card = await cards.get(uow, account_id=t.account_id, card_id=t.card_id)
    return Movement(t, _after(card, state))


async def transfer(uow: UnitOfWork, *, account_id: str, card_id: str, to_card: str, amount: int) -> Movement:
    """Move value from one of the account's cards to another of the same currency. A test card
    and a live card never exchange value (`test_card`): a test card's value would otherwise buy
    something through the live card."""
    require_positive(amount)
    if to_card == card_id:
        raise ValidationFailed("to_card must be another card", param="to_card")
    src = await cards.get(uow, account_id=account_id, card_id=card_id)
    try:
        dst = await cards.get(uow, account_id=account_id, card_id=to_card)
    except GiftwellError as exc:
        exc.param = "to_card"
        raise
    if src.test != dst.test:
        raise TestCardRefused(
            "a test card and a live card cannot exchange value", param="to_card" if dst.test else "card"
        )
    if src.currency != dst.currency:
        raise CurrencyMismatch(f"cards hold different currencies ({src.currency}, {dst.currency})", param="to_card")
    require_usable(src.status, src.expires_at, uow.now)
    try:
        require_usable(dst.status, dst.expires_at, uow.now)
    except GiftwellError as exc:
        exc.param = "to_card"
        raise
    try:
        p = await transfers.post(
            uow,
            account_id=account_id,
            kind=TransferKind.TRANSFER,
            currency=src.currency,
            amount=amount,
            debit=_card_leg(src, uow.now),
            credit=_card_leg(dst, uow.now),
            card_id=src.id,
            counterparty_card_id=dst.id,
        )
    except LegRefused as refused:
        await _explain(uow, src if refused.side is Side.DEBIT else dst, amount, side=refused.side)
        raise
    return Movement(p.transfer, _after(src, p.debit))


async def adjust(uow: UnitOfWork, *, account_id: str, card_id: str, amount: int, reason: str) -> Movement:
    """Correct a card's balance by a signed amount, against the issuer's adjustment account."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise ValidationFailed("amount must be a non-zero integer of minor units", param="amount")
    if not reason or not reason.strip():
        raise ValidationFailed("reason is required for an adjustment", param="reason")
    card = await cards.get(uow, account_id=account_id, card_id=card_id)
    statuses = (CardStatus.ACTIVE, CardStatus.BLOCKED)
    if card.status not in statuses:
        require_usable(card.status, card.expires_at, uow.now)
    m = await _post_card(
        uow, card, TransferKind.ADJUST, abs(amount), signed=amount, statuses=statuses, reason=reason.strip()
    )
    await audit.record(
        uow,
        "card.adjusted",
        target=("card", card.id),
        account_id=account_id,
        changes={
            "amount": amount,
            "currency": card.currency,
            "balance": [card.balance, m.card.balance],
            "reason": reason.strip(),
            "transfer": m.transfer.id,
        },
    )
    return m
