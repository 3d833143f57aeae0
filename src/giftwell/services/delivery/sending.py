"""Sending one delivery: the `delivery.send` job's work, in three steps so that no transaction is
held across the network (on SQLite that would stop every writer):

1. a short transaction checks the delivery is still open and due, renders the message (the card
   as it stands now: its balance, its reward link), and counts the attempt (`queued`,
   `attempts + 1`);
2. the transport sends it (SMTP or the SMS gateway, or the mail folder);
3. a short transaction records the outcome with a guarded update (`WHERE status IN ('scheduled',
   'queued')`) and its event, `delivery.sent` or `delivery.failed`, in the same transaction.

A permanent refusal (a 5xx SMTP reply, a gateway's 4xx, an invalid address) ends the delivery
`failed` with the reason, and the job is done. A transient one (4xx, connection refused, timeout)
is raised, so the job system retries it with backoff; the last allowed attempt that fails ends
the delivery `failed` too. A worker dying between 2 and 3 sends the message again on the next
attempt (at least once); the Message-ID stays the same, so mail systems can tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa

from giftwell.domain.cards import WITHHELD, past_date
from giftwell.domain.delivery import OPEN_STATUSES, Channel, DeliveryStatus, SendFailed
from giftwell.domain.errors import NotFound
from giftwell.domain.jobs import PermanentFailure, RetryLater
from giftwell.services import events
from giftwell.services.cards import reads as cards
from giftwell.services.delivery import choice_sending, messages, reward
from giftwell.services.runtime import Runtime
from giftwell.store.models import Delivery
from giftwell.store.uow import UnitOfWork
from giftwell.telemetry import metrics


@dataclass(frozen=True, slots=True)
class _Prepared:
    id: str
    channel: Channel
    to: str
    attempt: int
    email: EmailMessage | None
    sms: str | None


async def attempt(rt: Runtime, delivery_id: str, *, final: bool) -> DeliveryStatus:
    """Try to send a delivery once; return its status afterwards. `final`: the job's last
    allowed attempt (a transient failure then ends the delivery `failed`). Raises `SendFailed`
    for a transient failure the job system should retry, `RetryLater` before its time."""
    async with rt.uow() as uow:
        prepared = await _prepare(uow, delivery_id)
        await uow.commit()
    if isinstance(prepared, DeliveryStatus):
        return prepared
    try:
        if prepared.email is not None:
            provider_id = await rt.mailer.send(prepared.email, delivery_id=prepared.id)
        else:
            assert prepared.sms is not None
            provider_id = await rt.sms.send(to=prepared.to, body=prepared.sms, delivery_id=prepared.id)
    except SendFailed as exc:
        metrics.delivery_failed("email" if prepared.email is not None else "sms")
        if exc.permanent or final:
            reason = exc.reason if exc.permanent else f"gave up after {prepared.attempt} attempts: {exc.reason}"
            async with rt.uow() as uow:
                await _fail(uow, delivery_id, reason[:1000])
                await uow.commit()
            return DeliveryStatus.FAILED
        async with rt.uow() as uow:
            await uow.conn.execute(
                sa.update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status.in_(OPEN_STATUSES))
                .values(reason=exc.reason[:1000], updated_at=uow.now)
            )
            await uow.commit()
        raise
    async with rt.uow() as uow:
        await _sent(uow, delivery_id, provider_id[:200])
        await uow.commit()
    return DeliveryStatus.SENT


async def _prepare(uow: UnitOfWork, delivery_id: str) -> _Prepared | DeliveryStatus:
    d = (await uow.conn.execute(sa.select(Delivery).where(Delivery.id == delivery_id))).first()
    if d is None:
        raise PermanentFailure(f"no delivery {delivery_id}")
    if d.status not in OPEN_STATUSES:
        return DeliveryStatus(d.status)  # already sent or failed: a job run twice does nothing
    if d.scheduled_at > uow.now:
        raise RetryLater((d.scheduled_at - uow.now).total_seconds(), "not due yet")
    if d.card_id is None:
        return await _prepare_link(uow, d)
    try:
        card = await cards.get(uow, account_id=d.card_account_id, card_id=d.card_id)
        token = await reward.token_of(uow, d.card_id)
    except NotFound:
        await _fail(uow, delivery_id, "the card no longer exists")
        return DeliveryStatus.FAILED
    expired = past_date(card.expires_at, uow.now)
    if card.status in WITHHELD or expired:
        await _fail(uow, delivery_id, f"card is {'expired' if expired else card.status.value}")
        return DeliveryStatus.FAILED
    p = await messages.present(
        uow,
        card,
        locale=d.locale,
        sender_name=d.sender_name,
        recipient_name=d.recipient_name,
        message=d.message,
        image_url=d.image_url,
    )
    link = reward.url(uow, token)
    secret = None
    if p.code_in_message:  # the product says so; otherwise the link is the only way to the code
        code, pin = await cards.reveal_code(uow, account_id=d.card_account_id, card_id=d.card_id)
        secret = messages.Secret(code, pin)
    channel = Channel(d.channel)
    n = await _count_attempt(uow, delivery_id)
    s = uow.rt.settings
    if channel is Channel.EMAIL:
        mail = messages.email(
            p,
            to=d.to_address,
            mail_from=s.mail_from,
            link=link,
            balance_url=f"{s.base_url}/balance",
            delivery_id=d.id,
            secret=secret,
        )
        return _Prepared(d.id, channel, d.to_address, n, mail, None)
    return _Prepared(d.id, channel, d.to_address, n, None, messages.sms(p, link=link, secret=secret))


async def _prepare_link(uow: UnitOfWork, d: Any) -> _Prepared | DeliveryStatus:
    """A choice reward link's message (`choice_sending.email` or `.sms`)."""
    channel = Channel(d.channel)
    try:
        if channel is Channel.SMS:
            text, mail = await choice_sending.sms(uow, d), None
        else:
            text, mail = None, await choice_sending.email(uow, d)
    except NotFound:
        await _fail(uow, d.id, "the link no longer exists")
        return DeliveryStatus.FAILED
    n = await _count_attempt(uow, d.id)
    return _Prepared(d.id, channel, d.to_address, n, mail, text)


async def _count_attempt(uow: UnitOfWork, delivery_id: str) -> int:
    res = await uow.conn.execute(
        sa.update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status.in_(OPEN_STATUSES))
        .values(
            status=DeliveryStatus.QUEUED.value,
            attempts=Delivery.attempts + 1,
            last_attempt_at=uow.now,
            updated_at=uow.now,
        )
        .returning(Delivery.attempts)
    )
    return int(res.scalar_one())


async def _finish(uow: UnitOfWork, delivery_id: str, status: DeliveryStatus, **values: Any) -> None:
    stamp = {"sent_at": uow.now} if status is DeliveryStatus.SENT else {"failed_at": uow.now}
    res = await uow.conn.execute(
        sa.update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status.in_(OPEN_STATUSES))
        .values(status=status.value, updated_at=uow.now, **stamp, **values)
        .returning(
            Delivery.account_id,
            Delivery.card_id,
            Delivery.order_id,
            Delivery.channel,
            Delivery.attempts,
            Delivery.reason,
        )
    )
    row = res.first()
    if row is None:
        return  # someone else recorded the outcome first
    data: dict[str, Any] = {
        "delivery": delivery_id,
        "card": row.card_id,
        "order": row.order_id,
        "channel": row.channel,
        "status": status.value,
        "attempts": int(row.attempts),
    }
    if status is DeliveryStatus.FAILED:
        data["reason"] = row.reason
    await events.record(
        uow, account_id=row.account_id, type=f"delivery.{status.value}", subject_id=delivery_id, data=data
    )


async def _sent(uow: UnitOfWork, delivery_id: str, provider_id: str) -> None:
    await _finish(uow, delivery_id, DeliveryStatus.SENT, provider_id=provider_id, reason=None)


async def _fail(uow: UnitOfWork, delivery_id: str, reason: str) -> None:
    await _finish(uow, delivery_id, DeliveryStatus.FAILED, reason=reason)
