"""Issuing a card and sending it to its recipient, in one transaction: the card, its activation
and its delivery (with the delivery's job) commit together or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from giftwell.domain.delivery import Notification
from giftwell.services.cards import issuing
from giftwell.services.cards.issuing import IssuedCard
from giftwell.services.delivery import deliveries
from giftwell.services.delivery.deliveries import DeliveryView
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Gift:
    issued: IssuedCard
    delivery: DeliveryView | None


async def issue_and_send(uow: UnitOfWork, *, account_id: str, notification: Notification | None, **card: Any) -> Gift:
    """`cards.issuing.issue` with `card`'s arguments, then, with a `notification`, the card's
    delivery (`deliveries.request`), requested by the issuing account."""
    issued = await issuing.issue(uow, account_id=account_id, **card)
    sent = None
    if notification is not None:
        sent = await deliveries.request(
            uow, card=issued.card, notification=notification, source="card", requested_by=account_id
        )
    return Gift(issued, sent)
