"""Sending a choice reward link by email or SMS, through the same deliveries as cards: a
`deliveries` row (with `choice_link_id` instead of `card_id`) and its `delivery.send` job, written
in the fulfilment batch that made the link; `sending` renders the message when the job runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from typing import Any

import sqlalchemy as sa

from giftwell.domain.delivery import Channel, DeliveryStatus, Notification, check_notification
from giftwell.domain.errors import NotFound
from giftwell.services.delivery import choice, deliveries, messages
from giftwell.store.models import Account, ChoiceLink, Delivery
from giftwell.store.uow import UnitOfWork


async def for_order_link(uow: UnitOfWork, *, order: Any, unit_id: str, item: Any) -> str | None:
    """The link's delivery when its item asked for one (email or SMS to the item's recipient), in
    the caller's transaction (`deliveries.record`); None when it did not."""
    spec = item.delivery or {}
    if spec.get("channel") not in (Channel.EMAIL.value, Channel.SMS.value):
        return None
    channel = Channel(spec["channel"])
    link_id = await uow.conn.scalar(sa.select(ChoiceLink.id).where(ChoiceLink.unit_id == unit_id))
    assert link_id is not None
    recipient = item.recipient or {}
    at = spec.get("scheduled_at")
    n = Notification(
        channel=channel,
        to=str(recipient.get("email" if channel is Channel.EMAIL else "phone") or ""),
        recipient_name=recipient.get("name"),
        sender_name=(item.sender or {}).get("name"),
        message=item.message,
        image_url=spec.get("image_url"),
        # A time already past (a background batch running late) is sent at once.
        scheduled_at=datetime.fromisoformat(at)
        if isinstance(at, str) and datetime.fromisoformat(at) > uow.now
        else None,
        locale=spec.get("locale"),
    )
    return await deliveries.record(
        uow,
        n=check_notification(n, now=uow.now, param="delivery"),
        requested_by=order.account_id,
        card_account_id=order.account_id,
        subject=("choice_link", str(link_id)),
        order_id=order.id,
        source="order",
    )


async def _link(uow: UnitOfWork, d: Any) -> tuple[choice.LinkView, Any, str]:
    """The link of delivery `d`, the locale to write in, and the link's value in it."""
    row = (await uow.conn.execute(sa.select(ChoiceLink).where(ChoiceLink.id == d.choice_link_id))).first()
    if row is None:
        raise NotFound("the link no longer exists", param="choice_link")
    link = await choice.view(uow, row)
    loc = messages.locale_of(d.locale or uow.rt.settings.default_locale)
    return link, loc, messages.money(link.initial_balance, link.currency, loc)


async def sms(uow: UnitOfWork, d: Any) -> str:
    """The text message of a choice link's delivery `d`: who sent it, the value, the link, the date."""
    link, loc, value = await _link(uow, d)
    who = f"{d.sender_name} sent you" if d.sender_name else "You received"
    return f"{who} a {value} gift to spend on gift cards of your choice. Choose before {messages.day(link.expires_at, loc)}: {link.url}"


async def email(uow: UnitOfWork, d: Any) -> EmailMessage:
    """The message of a choice link's delivery `d`: who sent it, the value, the link."""
    link, loc, value = await _link(uow, d)
    brand = await uow.conn.scalar(sa.select(Account.name).where(Account.id == link.account_id)) or "Giftwell"
    subject = f"{d.sender_name} sent you a {value} gift" if d.sender_name else f"Your {value} gift"
    lines = [
        f"Hello {d.recipient_name}," if d.recipient_name else "Hello,",
        "",
        f"You have a {value} gift to spend on the gift cards of your choice.",
    ]
    if d.message:
        lines += ["", d.message]
    lines += ["", f"Choose your gift cards: {link.url}", "", f"Choose before {messages.day(link.expires_at, loc)}."]
    msg = EmailMessage()
    display, address = parseaddr(uow.rt.settings.mail_from)
    msg["From"] = formataddr(
        (f"{d.sender_name} via {display or brand}" if d.sender_name else display or brand, address)
    )
    msg["To"] = Address(display_name=d.recipient_name or "", addr_spec=d.to_address)
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{d.id}@{address.rpartition('@')[2] or 'giftwell.invalid'}>"
    msg["X-Giftwell-Delivery"] = d.id
    msg.set_content("\n".join(lines) + "\n")
    return msg


@dataclass(frozen=True, slots=True)
class LinkDelivery:
    id: str
    to: str
    status: DeliveryStatus
    attempts: int
    queued_at: datetime
    sent_at: datetime | None


async def for_links(uow: UnitOfWork, link_ids: list[str]) -> dict[str, list[LinkDelivery]]:
    """The deliveries of these links, oldest first, by link id (one query)."""
    out: dict[str, list[LinkDelivery]] = {}
    if not link_ids:
        return out
    rows = await uow.conn.execute(
        sa.select(Delivery).where(Delivery.choice_link_id.in_(link_ids)).order_by(Delivery.created_at, Delivery.id)
    )
    for r in rows.all():
        out.setdefault(r.choice_link_id, []).append(
            LinkDelivery(r.id, r.to_address, DeliveryStatus(r.status), int(r.attempts), r.created_at, r.sent_at)
        )
    return out
