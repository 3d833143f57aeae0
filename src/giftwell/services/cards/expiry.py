"""Cards as they stand at this instant, expiry included.

A card is expired from its `expires_at` on, not only once the sweeper next passes (every
`sweep_interval_seconds`, and on PostgreSQL only where a worker runs). Money movements already
refuse a due card in their guarded UPDATE; the reads here go further: one that meets a due card
expires it first (`card_money.expire_card`, guarded, so a sweeper racing it does nothing twice),
so every surface shows the `expired` status, the zero balance and the `expire` transfer to
breakage from that instant on.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from giftwell.domain.cards import EXPIRABLE, Card, CardStatus, is_due
from giftwell.domain.errors import InvalidState
from giftwell.domain.ledger import AccountKind, TransferKind, TransferStatus
from giftwell.services import events
from giftwell.services.cards import reads as cards
from giftwell.services.ledger import accounts as ledger_accounts
from giftwell.services.ledger import settle, transfers
from giftwell.services.ledger.transfers import Leg
from giftwell.services.runtime import Runtime
from giftwell.store.models import Card as CardRow
from giftwell.store.models import LedgerAccount
from giftwell.store.models import Transfer as TransferRow
from giftwell.store.uow import UnitOfWork

# A list expires at most this many due cards of its account first; the sweeper does the rest.
LIST_BATCH = 100
_EXPIRABLE = sorted(s.value for s in EXPIRABLE)


def due(now: datetime) -> sa.ColumnElement[bool]:
    """`domain.cards.is_due` in SQL: an expirable status and past the date."""
    return sa.and_(CardRow.status.in_(_EXPIRABLE), CardRow.expires_at <= now)


def _is_due(card: Card, now: datetime) -> bool:
    return is_due(card.status, card.expires_at, now)


async def settled(uow: UnitOfWork, card: Card) -> Card:
    """`card` (just read in this write unit of work) expired first if it is due."""
    if not _is_due(card, uow.now):
        return card
    await expire_card(uow, account_id=card.account_id, card_id=card.id)
    return await cards.get(uow, account_id=card.account_id, card_id=card.id)


async def settle_and_get(rt: Runtime, *, account_id: str, card_id: str) -> Card:
    """The caller's card (`NotFound` for another account's), expired first if it is due. A card
    that is not due costs one autocommit read, as before."""
    async with rt.reader() as uow:
        card = await cards.get(uow, account_id=account_id, card_id=card_id)
    if not _is_due(card, rt.clock()):
        return card
    async with rt.uow() as uow:
        card = await settled(uow, await cards.get(uow, account_id=account_id, card_id=card_id))
        await uow.commit()
    return card


async def settle_and_lookup_public(rt: Runtime, *, code: str, pin: str | None) -> Card:
    """`cards.lookup_public` (the public balance page: any account's card, by code and PIN),
    expired first if it is due. A card that is not due costs one autocommit read."""
    async with rt.reader() as uow:
        card = await cards.lookup_public(uow, code=code, pin=pin)
    if not _is_due(card, rt.clock()):
        return card
    async with rt.uow() as uow:
        card = await settled(uow, await cards.get(uow, account_id=card.account_id, card_id=card.id))
        await uow.commit()
    return card


async def settle_and_lookup_with_pin(uow: UnitOfWork, *, account_id: str, code: str, pin: str | None) -> Card:
    """`cards.lookup_with_pin`, expired first if it is due."""
    return await settled(uow, await cards.lookup_with_pin(uow, account_id=account_id, code=code, pin=pin))


async def settle_account(rt: Runtime, *, account_id: str) -> int:
    """Expire the account's due cards (up to `LIST_BATCH`) before a list shows them; one indexed
    read when there are none."""
    now = rt.clock()
    mine_due = (CardRow.account_id == account_id, due(now))
    async with rt.reader() as uow:
        found = (await uow.conn.execute(sa.select(CardRow.id).where(*mine_due).limit(1))).first()
    if found is None:
        return 0
    done = 0
    async with rt.uow() as uow:
        rows = await uow.conn.execute(
            sa.select(CardRow.id).where(*mine_due).order_by(CardRow.expires_at, CardRow.id).limit(LIST_BATCH)
        )
        for (card_id,) in rows.all():
            done += await expire_card(uow, account_id=account_id, card_id=card_id)
        await uow.commit()
    return done


async def expire_due(uow: UnitOfWork, *, limit: int = 200) -> int:
    """Expire cards past `expires_at`: void their holds and move what remains to breakage."""
    rows = (
        await uow.conn.execute(
            sa.select(CardRow.id, CardRow.account_id)
            .where(due(uow.now))
            # A fixed order, so that concurrent sweepers lock cards in the same order.
            .order_by(CardRow.expires_at, CardRow.id)
            .limit(limit)
        )
    ).all()
    done = 0
    for r in rows:
        if await expire_card(uow, account_id=r.account_id, card_id=r.id):
            done += 1
    return done


async def expire_card(uow: UnitOfWork, *, account_id: str, card_id: str) -> bool:
    """Expire one card if it is due and not expired yet (a guarded UPDATE: of two concurrent
    callers one does it, the other gets False): void its holds, move its balance to breakage by
    an `expire` transfer, record `card.expired`."""
    res = await uow.conn.execute(
        sa.update(CardRow)
        .where(CardRow.id == card_id, due(uow.now))
        .values(status=CardStatus.EXPIRED.value, updated_at=uow.now)
        .returning(CardRow.ledger_account_id, CardRow.currency)
    )
    row = res.first()
    if row is None:
        return False
    pending = await uow.conn.execute(
        sa.select(TransferRow.id)
        .where(
            TransferRow.debit_account_id == row.ledger_account_id, TransferRow.status == TransferStatus.PENDING.value
        )
        .order_by(TransferRow.id)
    )
    for (tid,) in pending.all():
        await _void_unless_resolved(uow, account_id=account_id, transfer_id=tid, reason="card expired")
    balance = (
        await uow.conn.execute(
            sa.select(LedgerAccount.balance).where(LedgerAccount.id == row.ledger_account_id).with_for_update()
        )
    ).scalar_one()
    if balance:
        breakage = await ledger_accounts.system_account(
            uow, account_id=account_id, kind=AccountKind.BREAKAGE, currency=row.currency
        )
        await transfers.post(
            uow,
            account_id=account_id,
            kind=TransferKind.EXPIRE,
            currency=row.currency,
            amount=int(balance),
            debit=Leg(row.ledger_account_id, guarded=True),
            credit=Leg(breakage, guarded=False),
            card_id=card_id,
        )
    await events.record(
        uow,
        account_id=account_id,
        type="card.expired",
        subject_id=card_id,
        data={"card": card_id, "breakage": int(balance or 0), "currency": row.currency},
    )
    return True


async def expire_holds(uow: UnitOfWork, *, limit: int = 500) -> int:
    """Void every hold past its expiry; each is recorded as a `hold.expired` event."""
    n = 0
    for account_id, transfer_id in await settle.expired_holds(uow, limit=limit):
        p = await _void_unless_resolved(uow, account_id=account_id, transfer_id=transfer_id, reason="expired")
        if p is None:
            continue
        await events.record(
            uow,
            account_id=account_id,
            type="hold.expired",
            subject_id=transfer_id,
            data={"transfer": transfer_id, "card": p.transfer.card_id, "amount": p.transfer.hold_amount},
        )
        n += 1
    return n


async def _void_unless_resolved(
    uow: UnitOfWork, *, account_id: str, transfer_id: str, reason: str
) -> transfers.Posting | None:
    """Void a hold for a sweep, or None when it was resolved after the sweep listed it.

    Another sweeper, the card's expiry or a caller's void may resolve the hold between our
    SELECT and our guarded UPDATE. That is not an error for a sweep: raising would roll back
    the whole batch and fail the sweep whenever two workers (or a worker and a caller) meet.
    Nothing went to the database that needs undoing: the guarded UPDATE matched no row.
    """
    try:
        return await settle.void(uow, account_id=account_id, transfer_id=transfer_id, reason=reason)
    except InvalidState:
        return None
