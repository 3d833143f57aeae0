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

from giftwell.domain.cards import Card, CardStatus
from giftwell.services import card_money, cards
from giftwell.services.runtime import Runtime
from giftwell.store.models import Card as CardRow
from giftwell.store.uow import UnitOfWork

EXPIRING = (CardStatus.INACTIVE, CardStatus.ACTIVE, CardStatus.BLOCKED)
# A list expires at most this many due cards of its account first; the sweeper does the rest.
LIST_BATCH = 100


def is_due(card: Card, now: datetime) -> bool:
    return card.expires_at is not None and card.expires_at <= now and card.status in EXPIRING


async def settled(uow: UnitOfWork, card: Card) -> Card:
    """`card` (just read in this write unit of work) expired first if it is due."""
    if not is_due(card, uow.now):
        return card
    await card_money.expire_card(uow, account_id=card.account_id, card_id=card.id)
    return await cards.get(uow, account_id=card.account_id, card_id=card.id)


async def get(rt: Runtime, *, account_id: str, card_id: str) -> Card:
    """The caller's card (`NotFound` for another account's), expired first if it is due. A card
    that is not due costs one autocommit read, as before."""
    async with rt.reader() as uow:
        card = await cards.get(uow, account_id=account_id, card_id=card_id)
    if not is_due(card, rt.clock()):
        return card
    async with rt.uow() as uow:
        card = await settled(uow, await cards.get(uow, account_id=account_id, card_id=card_id))
        await uow.commit()
    return card


async def lookup_with_pin(uow: UnitOfWork, *, account_id: str, code: str, pin: str | None) -> Card:
    """`cards.lookup_with_pin`, expired first if it is due."""
    return await settled(uow, await cards.lookup_with_pin(uow, account_id=account_id, code=code, pin=pin))


async def settle_account(rt: Runtime, *, account_id: str) -> int:
    """Expire the account's due cards (up to `LIST_BATCH`) before a list shows them; one indexed
    read when there are none."""
    now = rt.clock()
    due = (
        CardRow.account_id == account_id,
        CardRow.status.in_([s.value for s in EXPIRING]),
        CardRow.expires_at <= now,
    )
    async with rt.reader() as uow:
        found = (await uow.conn.execute(sa.select(CardRow.id).where(*due).limit(1))).first()
    if found is None:
        return 0
    done = 0
    async with rt.uow() as uow:
        rows = await uow.conn.execute(
            sa.select(CardRow.id).where(*due).order_by(CardRow.expires_at, CardRow.id).limit(LIST_BATCH)
        )
        for (card_id,) in rows.all():
            done += await card_money.expire_card(uow, account_id=account_id, card_id=card_id)
        await uow.commit()
    return done
