"""Delivery rules: the notification a card is sent with, delivery states, and how a transport's
failure is judged. Pure: no I/O, no third-party imports (Babel and the transports live outside).

A delivery is one message (email or SMS) carrying one card's reward link to one address:
`scheduled` (waiting for its time) -> `queued` (due; being sent, or waiting for a retry) ->
`sent` or `failed` (final). A resend is a new delivery of the same card.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from giftwell.domain.contacts import check_email, check_phone
from giftwell.domain.errors import ValidationFailed

MAX_MESSAGE = 500
MAX_NAME = 200
MAX_IMAGE_URL = 2000
# A card is sent (or resent) at most once per this interval: a caller retrying in a loop cannot
# flood a recipient.
RESEND_INTERVAL = timedelta(seconds=30)
# How far ahead a delivery may be scheduled.
MAX_SCHEDULE_AHEAD = timedelta(days=366)
DEFAULT_LOCALE = "en"

_LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


class DeliveryStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"

    @property
    def open(self) -> bool:
        return self in (DeliveryStatus.SCHEDULED, DeliveryStatus.QUEUED)


OPEN_STATUSES = (DeliveryStatus.SCHEDULED.value, DeliveryStatus.QUEUED.value)


@dataclass(frozen=True, slots=True)
class Notification:
    """What to send a card with, and where: the same shape at card creation, in `/send` and
    `/resend`, and built from an order item (its `delivery`, recipient, sender and message)."""

    channel: Channel
    to: str
    recipient_name: str | None = None
    sender_name: str | None = None
    message: str | None = None
    image_url: str | None = None
    scheduled_at: datetime | None = None
    locale: str | None = None


def check_notification(n: Notification, *, now: datetime, param: str = "notification") -> Notification:
    """The notification with its address normalised, or `ValidationFailed` naming the field.

    Email addresses are lowercased; phone numbers must be E.164 (`+` and country code) after
    spaces and dashes are dropped; a message has at most 500 characters; an image is an http(s)
    URL; `scheduled_at` has a timezone and lies at most a year ahead (a past time means now).
    """

    def at_(field: str) -> str:
        return f"{param}.{field}" if param else field

    try:
        channel = Channel(n.channel)
    except ValueError:
        raise ValidationFailed("channel must be email or sms", param=at_("channel")) from None
    to = (n.to or "").strip() if isinstance(n.to, str) else ""
    if not to:
        raise ValidationFailed("to is required", param=at_("to"), rule="required")
    if channel is Channel.EMAIL:
        to = check_email(to, param=at_("to"), label="to")
    else:
        to = check_phone(to, param=at_("to"), label="to")
    names = {}
    for field in ("recipient_name", "sender_name"):
        value = getattr(n, field)
        value = value.strip() or None if isinstance(value, str) else None
        if value is not None and len(value) > MAX_NAME:
            raise ValidationFailed(f"{field} is longer than {MAX_NAME} characters", param=at_(field))
        names[field] = value
    message = n.message if n.message else None
    if message is not None and len(message) > MAX_MESSAGE:
        raise ValidationFailed(f"message is longer than {MAX_MESSAGE} characters", param=at_("message"))
    image = n.image_url.strip() if n.image_url else None
    if image is not None:
        parts = urlsplit(image)
        if len(image) > MAX_IMAGE_URL or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationFailed("image_url must be an http(s) URL", param=at_("image_url"))
    at = n.scheduled_at
    if at is not None:
        if at.tzinfo is None:
            raise ValidationFailed("scheduled_at needs a timezone", param=at_("scheduled_at"))
        if at - now > MAX_SCHEDULE_AHEAD:
            raise ValidationFailed("scheduled_at is more than a year ahead", param=at_("scheduled_at"))
        if at <= now:
            at = None
    locale = n.locale.strip() if n.locale else None
    if locale is not None and not _LOCALE_RE.match(locale):
        raise ValidationFailed("locale must look like en, de-DE or pt_BR", param=at_("locale"))
    return replace(
        n,
        channel=channel,
        to=to,
        recipient_name=names["recipient_name"],
        sender_name=names["sender_name"],
        message=message,
        image_url=image,
        scheduled_at=at,
        locale=locale,
    )


def initial_status(scheduled_at: datetime | None, now: datetime) -> DeliveryStatus:
    return DeliveryStatus.SCHEDULED if scheduled_at is not None and scheduled_at > now else DeliveryStatus.QUEUED


class SendFailed(Exception):
    """A transport could not deliver a message. `permanent`: trying again cannot help (the peer
    refused with a 5xx reply, the address is invalid); otherwise the job system retries it.

    The reason is stored and logged: it names the peer's reply, never the message's content
    (which holds the reward link)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def smtp_reply_is_permanent(code: int) -> bool:
    """RFC 5321: 5yz replies are permanent negative completions, 4yz transient ones."""
    return 500 <= code < 600


def sms_reply_is_permanent(status: int) -> bool:
    """An HTTP gateway's answer: a 4xx refuses the request itself (bad number, bad body), so a
    retry gets the same answer; 429 (throttled), 408 and 5xx are worth retrying."""
    return 400 <= status < 500 and status not in (408, 409, 425, 429)
