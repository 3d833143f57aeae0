"""Request and response shapes of delivery: the notification object and a card's deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from giftwell.api.v1.schemas.common import In, UtcDatetime
from giftwell.domain.delivery import MAX_MESSAGE, Channel, Notification
from giftwell.services.delivery.deliveries import DeliveryView, Resend

_TO = "Email address (channel email) or phone number in E.164 form, like +15550100123 (channel sms)."
_AT = "Send at this time (with a timezone); absent or past: now."
_LOCALE = "The recipient's locale for amounts and dates (en, de-DE, ja); default GIFTWELL_DEFAULT_LOCALE."


class NotificationIn(In):
    """The same object at card creation (`notification`), in `/send`, and (all optional) `/resend`."""

    channel: Literal["email", "sms"]
    to: Annotated[str, Field(min_length=1, max_length=320, description=_TO)]
    recipient_name: Annotated[str, Field(max_length=200)] | None = None
    sender_name: Annotated[str, Field(max_length=200)] | None = None
    message: Annotated[str, Field(max_length=MAX_MESSAGE)] | None = Field(
        default=None, description="Personal message, up to 500 characters; shown as text, never as markup."
    )
    image_url: Annotated[str, Field(max_length=2000)] | None = Field(default=None, description="An http(s) picture.")
    scheduled_at: UtcDatetime | None = Field(default=None, description=_AT)
    locale: Annotated[str, Field(max_length=35)] | None = Field(default=None, description=_LOCALE)

    def domain(self) -> Notification:
        return Notification(
            channel=Channel(self.channel),
            to=self.to,
            recipient_name=self.recipient_name,
            sender_name=self.sender_name,
            message=self.message,
            image_url=self.image_url,
            scheduled_at=self.scheduled_at,
            locale=self.locale,
        )


class ResendIn(In):
    """What changes for this resend; every field left out keeps the last delivery's value (but
    `scheduled_at`: absent sends now)."""

    channel: Literal["email", "sms"] | None = None
    to: Annotated[str, Field(min_length=1, max_length=320, description=_TO)] | None = None
    recipient_name: Annotated[str, Field(max_length=200)] | None = None
    sender_name: Annotated[str, Field(max_length=200)] | None = None
    message: Annotated[str, Field(max_length=MAX_MESSAGE)] | None = None
    image_url: Annotated[str, Field(max_length=2000)] | None = None
    scheduled_at: UtcDatetime | None = Field(default=None, description=_AT)
    locale: Annotated[str, Field(max_length=35)] | None = None

    def domain(self) -> Resend:
        return Resend(
            channel=Channel(self.channel) if self.channel else None,
            to=self.to,
            recipient_name=self.recipient_name,
            sender_name=self.sender_name,
            message=self.message,
            image_url=self.image_url,
            scheduled_at=self.scheduled_at,
            locale=self.locale,
        )


class DeliveryOut(BaseModel):
    id: str
    object: Literal["delivery"] = "delivery"
    card_id: str
    order_id: str | None
    source: str = Field(description="card (at creation), send, resend or order.")
    channel: str
    to: str
    recipient_name: str | None
    sender_name: str | None
    message: str | None
    image_url: str | None
    locale: str | None
    status: str = Field(description="scheduled, queued (due; sending or waiting to retry), sent or failed.")
    attempts: int
    reason: str | None = Field(description="Why it failed (or why the last attempt did).")
    scheduled_at: datetime
    created_at: datetime
    updated_at: datetime
    last_attempt_at: datetime | None
    sent_at: datetime | None
    failed_at: datetime | None

    @classmethod
    def of(cls, d: DeliveryView) -> DeliveryOut:
        return cls.model_construct(
            id=d.id,
            card_id=d.card_id,
            order_id=d.order_id,
            source=d.source,
            channel=d.channel,
            to=d.to,
            recipient_name=d.recipient_name,
            sender_name=d.sender_name,
            message=d.message,
            image_url=d.image_url,
            locale=d.locale,
            status=d.status.value,
            attempts=d.attempts,
            reason=d.reason,
            scheduled_at=d.scheduled_at,
            created_at=d.created_at,
            updated_at=d.updated_at,
            last_attempt_at=d.last_attempt_at,
            sent_at=d.sent_at,
            failed_at=d.failed_at,
        )
