"""Delivery use cases: send a card to its recipient by email or SMS, now or at a chosen time, and
again later; list a card's deliveries; hand an order's cards to delivery.

Each delivery is a row and a `delivery.send` job written in the caller's transaction (the
job queue): if the card, the order batch or the `/send` commits, the message will go out; if it
rolls back, it never existed. The job runs at `scheduled_at`; `services.delivery.sending` sends it.

A card is sent at most once per 30 seconds (`RESEND_INTERVAL`), whichever way: a guarded update
on its reward link's `last_sent_at` takes the slot, so two concurrent resends cannot both pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain.cards import WITHHELD, Card, past_date, raise_for_status
from giftwell.domain.delivery import (
    RESEND_INTERVAL,
    Channel,
    DeliveryStatus,
    Notification,
    check_notification,
    initial_status,
)
from giftwell.domain.errors import DeliveryExists, ResendTooSoon, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.services import events
from giftwell.services.cards import reads as cards
from giftwell.services.cards import text
from giftwell.services.delivery import reward
from giftwell.services.queue import jobs
from giftwell.store.models import Card as CardRow
from giftwell.store.models import Delivery, RewardLink
from giftwell.store.uow import UnitOfWork

SEND_JOB = "delivery.send"
MAX_LISTED = 100


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: str
    card_id: str
    order_id: str | None
    source: str
    channel: str
    to: str
    recipient_name: str | None
    sender_name: str | None
    message: str | None
    image_url: str | None
    locale: str | None
    status: DeliveryStatus
    attempts: int
    reason: str | None
    scheduled_at: datetime
    created_at: datetime
    updated_at: datetime
    last_attempt_at: datetime | None
    sent_at: datetime | None
    failed_at: datetime | None


def view(r: Any) -> DeliveryView:
    return DeliveryView(
        id=r.id,
        card_id=r.card_id,
        order_id=r.order_id,
        source=r.source,
        channel=r.channel,
        to=r.to_address,
        recipient_name=r.recipient_name,
        sender_name=r.sender_name,
        message=r.message,
        image_url=r.image_url,
        locale=r.locale,
        status=DeliveryStatus(r.status),
        attempts=int(r.attempts),
        reason=r.reason,
        scheduled_at=r.scheduled_at,
        created_at=r.created_at,
        updated_at=r.updated_at,
        last_attempt_at=r.last_attempt_at,
        sent_at=r.sent_at,
        failed_at=r.failed_at,
    )


def _sendable(card: Card, now: datetime) -> None:
    """A blocked, disabled or expired card is not sent (its page would show nothing)."""
    if card.status in WITHHELD or past_date(card.expires_at, now):
        raise_for_status(card.status, card.expires_at, now=now, wanted="send")


async def _take_slot(uow: UnitOfWork, card_id: str, *, refuse: bool) -> None:
    """Take the card's send slot (guarded update on `last_sent_at`); `ResendTooSoon` with the
    seconds to wait when it was taken less than RESEND_INTERVAL ago and `refuse` is set."""
    cutoff = uow.now - RESEND_INTERVAL
    cond = sa.or_(RewardLink.last_sent_at.is_(None), RewardLink.last_sent_at <= cutoff)
    q = sa.update(RewardLink).where(RewardLink.card_id == card_id)
    res = await uow.conn.execute(
        (q.where(cond) if refuse else q).values(last_sent_at=uow.now).returning(RewardLink.card_id)
    )
    if res.first() is None and refuse:
        last = await uow.conn.scalar(sa.select(RewardLink.last_sent_at).where(RewardLink.card_id == card_id))
        wait = RESEND_INTERVAL.total_seconds() - (uow.now - last).total_seconds() if last else 1
        raise ResendTooSoon(
            f"this card was sent less than {int(RESEND_INTERVAL.total_seconds())} seconds ago; retry later",
            param="card",
            retry_after=max(1, math.ceil(wait)),
        )


async def request(
    uow: UnitOfWork,
    *,
    card: Card,
    notification: Notification,
    source: str,
    requested_by: str,
    order_id: str | None = None,
    link_token: str | None = None,
    throttle: bool = True,
    param: str = "notification",
) -> DeliveryView:
    """Record a delivery of `card` and its send job, in the caller's transaction.

    `requested_by` is the account that asked (it gets the `delivery.*` events: the buyer, for an
    order's cards). `throttle`: refuse with `ResendTooSoon` inside the resend interval (the API);
    an order's first delivery takes the slot without asking."""
    n = check_notification(notification, now=uow.now, param=param)
    _sendable(card, uow.now)
    await reward.ensure_link(uow, card_id=card.id, account_id=requested_by, token=link_token, locale=n.locale)
    await _take_slot(uow, card.id, refuse=throttle)
    delivery_id = await record(
        uow,
        n=n,
        requested_by=requested_by,
        card_account_id=card.account_id,
        subject=("card", card.id),
        order_id=order_id,
        source=source,
    )
    return await get(uow, delivery_id)


async def record(
    uow: UnitOfWork,
    *,
    n: Notification,
    requested_by: str,
    card_account_id: str,
    subject: tuple[str, str],
    order_id: str | None,
    source: str,
) -> str:
    """The delivery row of a checked notification and its send job, with its `delivery.*` event,
    in the caller's transaction. `subject` is what it carries: `("card", id)`, or
    `("choice_link", id)` for a choice reward link (`choice_sending`)."""
    kind, subject_id = subject
    delivery_id = new_id("dlv")
    due = n.scheduled_at or uow.now
    status = initial_status(n.scheduled_at, uow.now)
    job_id = await jobs.enqueue(
        uow,
        SEND_JOB,
        {"delivery_id": delivery_id},
        run_at=due,
        dedupe_key=f"{SEND_JOB}:{delivery_id}",
        account_id=requested_by,
    )
    await uow.conn.execute(
        sa.insert(Delivery).values(
            id=delivery_id,
            account_id=requested_by,
            card_account_id=card_account_id,
            card_id=subject_id if kind == "card" else None,
            choice_link_id=subject_id if kind == "choice_link" else None,
            order_id=order_id,
            source=source,
            channel=n.channel.value,
            to=n.to,
            recipient_name=n.recipient_name,
            sender_name=n.sender_name,
            message=n.message,
            image_url=n.image_url,
            locale=n.locale,
            status=status.value,
            attempts=0,
            job_id=job_id,
            scheduled_at=due,
            created_at=uow.now,
            updated_at=uow.now,
        )
    )
    if n.channel is Channel.EMAIL and kind == "card":
        # The card's search text gains the addresses and names it was sent to (the card query).
        terms = (n.to, n.recipient_name, n.sender_name)
        await text.add(uow, account_id=card_account_id, card_id=subject_id, terms=terms)
    await events.record(
        uow,
        account_id=requested_by,
        type=f"delivery.{status.value}",
        subject_id=delivery_id,
        data={
            "delivery": delivery_id,
            kind: subject_id,
            "order": order_id,
            "channel": n.channel.value,
            "status": status.value,
            "scheduled_at": due.isoformat(),
        },
    )
    return delivery_id


async def get(uow: UnitOfWork, delivery_id: str) -> DeliveryView:
    row = (await uow.conn.execute(sa.select(Delivery).where(Delivery.id == delivery_id))).one()
    return view(row)


async def send(uow: UnitOfWork, *, account_id: str, card_id: str, notification: Notification) -> DeliveryView:
    """Deferred sending: the first delivery of a card created without one. A card that already
    has a delivery scheduled, queued or sent is `DeliveryExists` (409): use `resend`."""
    card = await cards.get(uow, account_id=account_id, card_id=card_id)
    existing = await uow.conn.scalar(
        sa.select(Delivery.id)
        .where(Delivery.card_id == card.id, Delivery.status != DeliveryStatus.FAILED.value)
        .limit(1)
    )
    if existing is not None:
        raise DeliveryExists("this card has already been sent; use /resend to send it again", param="card")
    return await request(uow, card=card, notification=notification, source="send", requested_by=account_id, param="")


@dataclass(frozen=True, slots=True)
class Resend:
    """A resend's changes; every field absent keeps the last delivery's value (not its time)."""

    channel: Channel | None = None
    to: str | None = None
    recipient_name: str | None = None
    sender_name: str | None = None
    message: str | None = None
    image_url: str | None = None
    scheduled_at: datetime | None = None
    locale: str | None = None


async def resend(uow: UnitOfWork, *, account_id: str, card_id: str, changes: Resend) -> DeliveryView:
    """Send a card again, optionally to another address or by the other channel: a new delivery,
    at most once per 30 seconds per card (`ResendTooSoon`, 429)."""
    card = await cards.get(uow, account_id=account_id, card_id=card_id)
    last = (
        await uow.conn.execute(
            sa.select(Delivery)
            .where(Delivery.card_id == card.id)
            .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        )
    ).first()
    channel = changes.channel or (Channel(last.channel) if last is not None else None)
    if channel is None:
        raise ValidationFailed("this card was never sent: give channel and to", param="channel", rule="required")
    to = changes.to or (last.to_address if last is not None and last.channel == channel.value else None)
    if not to:
        raise ValidationFailed("to is required when the channel changes", param="to", rule="required")

    def keep(new: str | None, old: str) -> str | None:
        return new if new is not None else (getattr(last, old) if last is not None else None)

    n = Notification(
        channel=channel,
        to=to,
        recipient_name=keep(changes.recipient_name, "recipient_name"),
        sender_name=keep(changes.sender_name, "sender_name"),
        message=keep(changes.message, "message"),
        image_url=keep(changes.image_url, "image_url"),
        scheduled_at=changes.scheduled_at,
        locale=keep(changes.locale, "locale"),
    )
    return await request(
        uow,
        card=card,
        notification=n,
        source="resend",
        requested_by=account_id,
        order_id=last.order_id if last is not None else None,
        param="",
    )


async def list_for_card(uow: UnitOfWork, *, account_id: str, card_id: str) -> list[DeliveryView]:
    """A card's deliveries, newest first (the last 100). Another account's card is NotFound."""
    card = await cards.get(uow, account_id=account_id, card_id=card_id)
    rows = await uow.conn.execute(
        sa.select(Delivery)
        .where(Delivery.card_id == card.id)
        .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        .limit(MAX_LISTED)
    )
    return [view(r) for r in rows.all()]


def sends(item: Any) -> bool:
    """Whether an order item asked for its cards to be sent (`delivery.channel` email or sms);
    without, each card gets only its reward link."""
    return (item.delivery or {}).get("channel") in (Channel.EMAIL.value, Channel.SMS.value)


async def for_order_card(uow: UnitOfWork, *, order: Any, unit_id: str, card_id: str, item: Any) -> DeliveryView | None:
    """Called by fulfilment in the batch that issued the card: the card's reward link (the token
    the order shows), and a delivery when the item asked for one (`delivery.channel` email or sms,
    to the item's recipient, with its sender and message)."""
    card_account = await uow.conn.scalar(sa.select(CardRow.account_id).where(CardRow.id == card_id))
    assert card_account is not None
    token = uow.rt.keys.link_token(unit_id)
    spec = item.delivery or {}
    channel = spec.get("channel")
    if not sends(item):
        await reward.ensure_link(uow, card_id=card_id, account_id=order.account_id, token=token)
        return None
    recipient = item.recipient or {}
    at = spec.get("scheduled_at")
    n = Notification(
        channel=Channel(str(channel)),
        to=str(recipient.get("email") if channel == Channel.EMAIL.value else recipient.get("phone") or ""),
        recipient_name=recipient.get("name"),
        sender_name=(item.sender or {}).get("name"),
        message=item.message,
        image_url=spec.get("image_url"),
        scheduled_at=datetime.fromisoformat(at) if isinstance(at, str) else None,
        locale=spec.get("locale"),
    )
    card = await cards.get(uow, account_id=card_account, card_id=card_id)
    return await request(
        uow,
        card=card,
        notification=n,
        source="order",
        requested_by=order.account_id,
        order_id=order.id,
        link_token=token,
        throttle=False,
    )
