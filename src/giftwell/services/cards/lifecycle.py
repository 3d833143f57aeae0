"""Card state changes without money: block, unblock, disable (compare-and-set on the status)."""

from __future__ import annotations

import sqlalchemy as sa

from giftwell.domain.cards import (
    Card,
    CardAction,
    next_status,
)
from giftwell.domain.errors import Conflict
from giftwell.services import audit, events
from giftwell.services.cards.reads import get
from giftwell.store.models import Card as CardRow
from giftwell.store.uow import UnitOfWork


async def change_status(
    uow: UnitOfWork, *, account_id: str, card_id: str, action: CardAction, reason: str | None = None
) -> Card:
    """Block, unblock or disable a card. Compare-and-set on the status, so two concurrent changes
    cannot both apply to the same starting state."""
    card = await get(uow, account_id=account_id, card_id=card_id)
    target = next_status(action, card.status, was_activated=card.activated_at is not None)
    res = await uow.conn.execute(
        sa.update(CardRow)
        .where(CardRow.id == card.id, CardRow.status == card.status.value)
        .values(
            status=target.value,
            status_reason=reason,
            updated_at=uow.now,
            **({"disabled_at": uow.now} if action is CardAction.DISABLE else {}),
        )
        .returning(CardRow.id)
    )
    if res.first() is None:
        # Someone changed the card between our read and our update: judge against the new state.
        fresh = await get(uow, account_id=account_id, card_id=card_id)
        next_status(action, fresh.status, was_activated=fresh.activated_at is not None)
        raise Conflict("card changed concurrently; retry", param="card")
    event_type = {
        CardAction.BLOCK: "card.blocked",
        CardAction.UNBLOCK: "card.unblocked",
        CardAction.DISABLE: "card.disabled",
    }
    await events.record(
        uow,
        account_id=account_id,
        type=event_type[action],
        subject_id=card.id,
        data={"card": card.id, "status": target.value, "reason": reason},
    )
    await audit.record(
        uow,
        event_type[action],
        target=("card", card.id),
        account_id=account_id,
        changes={"status": [card.status.value, target.value], "reason": reason},
    )
    return await get(uow, account_id=account_id, card_id=card_id)
