"""A card with its latest email delivery, for the surfaces that show a card's "notification" beside
it (the Wix dialect's `notificationInfo`), and emailing a card whether or not it was sent before.

Reads are procedures (`rt`) over one reader transaction; `email` is a step for the caller's
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from giftwell.domain.cards import Card
from giftwell.domain.delivery import Channel, Notification
from giftwell.domain.errors import DeliveryExists
from giftwell.domain.ledger import Transfer
from giftwell.services.cards import expiry, history, reads
from giftwell.services.delivery import deliveries
from giftwell.services.delivery.deliveries import DeliveryView, Resend
from giftwell.services.pagination import Page
from giftwell.services.runtime import Runtime
from giftwell.store.models import Delivery
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Noticed:
    """A card and its latest email delivery (None: never emailed)."""

    card: Card
    email: DeliveryView | None


async def latest_emails(uow: UnitOfWork, *, account_id: str, card_ids: Sequence[str]) -> dict[str, DeliveryView]:
    """The latest email delivery of each of the account's cards in `card_ids` (one query)."""
    if not card_ids:
        return {}
    rows = await uow.conn.execute(
        sa.select(Delivery)
        .where(
            Delivery.card_account_id == account_id,
            Delivery.card_id.in_(list(card_ids)),
            Delivery.channel == Channel.EMAIL.value,
        )
        .order_by(Delivery.card_id, Delivery.created_at, Delivery.id)
    )
    latest: dict[str, DeliveryView] = {}
    for r in rows:
        latest[r.card_id] = deliveries.view(r)  # ordered oldest first: the last one wins
    return latest


async def attach(rt: Runtime, *, account_id: str, cards: Sequence[Card]) -> list[Noticed]:
    """`cards`, each with its latest email delivery."""
    async with rt.reader() as uow:
        found = await latest_emails(uow, account_id=account_id, card_ids=[c.id for c in cards])
    return [Noticed(c, found.get(c.id)) for c in cards]


async def show(rt: Runtime, *, account_id: str, card_id: str) -> Noticed:
    """The card (its expiry settled) with its latest email delivery; another account's is `NotFound`."""
    card = await expiry.settle_and_get(rt, account_id=account_id, card_id=card_id)
    return (await attach(rt, account_id=account_id, cards=[card]))[0]


async def noticed(uow: UnitOfWork, *, account_id: str, card_id: str) -> Noticed:
    """`show` as a step, inside the caller's transaction (after a change it made)."""
    card = await reads.get(uow, account_id=account_id, card_id=card_id)
    found = await latest_emails(uow, account_id=account_id, card_ids=[card_id])
    return Noticed(card, found.get(card_id))


async def email(uow: UnitOfWork, *, account_id: str, card_id: str, notification: Notification) -> DeliveryView:
    """Email the card: its first delivery (`deliveries.send`), or, when it was sent before, a new
    one with exactly these fields (`deliveries.resend`, under its 30-second interval)."""
    try:
        return await deliveries.send(uow, account_id=account_id, card_id=card_id, notification=notification)
    except DeliveryExists:  # raised before anything was written: the transaction is clean
        n = notification
        changes = Resend(
            channel=n.channel,
            to=n.to,
            recipient_name=n.recipient_name or "",
            sender_name=n.sender_name or "",
            message=n.message or "",
            image_url=n.image_url or "",
            scheduled_at=n.scheduled_at,
            locale=n.locale,
        )
        return await deliveries.resend(uow, account_id=account_id, card_id=card_id, changes=changes)


async def transfers(
    rt: Runtime, *, account_id: str, card_id: str, limit: int, cursor: str | None
) -> tuple[Card, Page[Transfer]]:
    """A card (its expiry settled) and one page of its transfers, newest first."""
    card = await expiry.settle_and_get(rt, account_id=account_id, card_id=card_id)
    async with rt.reader() as uow:
        page = await history.list_transfers(uow, account_id=account_id, card_id=card_id, limit=limit, cursor=cursor)
    return card, page
