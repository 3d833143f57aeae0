"""Webhook endpoints, events, replays and attempts as the native API takes and shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt

from giftwell.api.v1.schemas.common import In, UtcDatetime
from giftwell.domain.webhooks import EVENT_TYPES, Format
from giftwell.services.events import EventView
from giftwell.services.webhooks.endpoints import EndpointView, WithSecret
from giftwell.services.webhooks.replay import AttemptView, DeliveryView, Recovered

EVENTS_DOC = 'Event types to receive, or `["*"]` for all of them: ' + ", ".join(f"`{t}`" for t in EVENT_TYPES)
FORMAT_DOC = (
    "`native`: `{id, type, created_at, data}`. `wizzgift`: the WizzGift order body "
    "(`id, referenceId, status, orderedQuantity, redeemInfos`), for `order.completed`, `order.failed` "
    "and `order.partial` only."
)


class EndpointIn(In):
    url: Annotated[str, Field(max_length=2000, description="https URL that receives the POSTs.")]
    events: Annotated[list[Annotated[str, Field(max_length=60)]], Field(min_length=1, max_length=50)] = Field(
        description=EVENTS_DOC
    )
    format: Format = Field(default=Format.NATIVE, description=FORMAT_DOC)
    enabled: StrictBool = True
    description: Annotated[str, Field(max_length=500)] = ""


class EndpointPatch(In):
    url: Annotated[str | None, Field(max_length=2000)] = None
    events: Annotated[list[Annotated[str, Field(max_length=60)]] | None, Field(min_length=1, max_length=50)] = None
    format: Format | None = None
    enabled: StrictBool | None = Field(default=None, description="Enabling again clears the failure record.")
    description: Annotated[str | None, Field(max_length=500)] = None


class RotateIn(In):
    overlap_seconds: Annotated[StrictInt | None, Field(ge=0, le=7 * 24 * 3600)] = Field(
        default=None,
        description="How long the old secret keeps signing too (default 86400; 0: it stops at once).",
    )


class EndpointOut(BaseModel):
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    id: str
    url: str
    description: str
    events: list[str]
    format: str
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    secret_rotated_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="Until then deliveries carry the previous secret's signatures too."
    )
    created_at: datetime
    updated_at: datetime
    deleted: bool

    @classmethod
    def of(cls, e: EndpointView) -> EndpointOut:
        return cls(
            id=e.id,
            url=e.url,
            description=e.description,
            events=list(e.events),
            format=e.format,
            enabled=e.enabled,
            disabled_reason=e.disabled_reason,
            disabled_at=e.disabled_at,
            secret_rotated_at=e.secret_rotated_at,
            previous_secret_expires_at=e.previous_secret_expires_at,
            created_at=e.created_at,
            updated_at=e.updated_at,
            deleted=e.deleted,
        )


class EndpointWithSecretOut(EndpointOut):
    secret: str = Field(description="`whsec_` + base64 of 32 bytes. Shown once: store it now.")

    @classmethod
    def new(cls, w: WithSecret) -> EndpointWithSecretOut:
        return cls(**EndpointOut.of(w.endpoint).model_dump(), secret=w.secret)


class EventOut(BaseModel):
    object: Literal["event"] = "event"
    id: str = Field(description="Also the `webhook-id` of every delivery of this event.")
    type: str
    created_at: datetime
    data: dict[str, Any]

    @classmethod
    def of(cls, e: EventView) -> EventOut:
        return cls(id=e.id, type=e.type, created_at=e.created_at, data=e.data)


class ReplayIn(In):
    endpoint: Annotated[str | None, Field(max_length=40, description="Only to this endpoint.")] = None


class WebhookDeliveryOut(BaseModel):
    id: str
    event: str
    endpoint: str
    status: str
    generation: int

    @classmethod
    def of(cls, d: DeliveryView) -> WebhookDeliveryOut:
        return cls(id=d.id, event=d.event, endpoint=d.endpoint, status=d.status, generation=d.generation)


class ReplayOut(BaseModel):
    data: list[WebhookDeliveryOut]


class RecoverIn(In):
    since: UtcDatetime
    until: UtcDatetime | None = Field(default=None, description="Default: now.")


class RecoverOut(BaseModel):
    replayed: int
    has_more: bool = Field(description="More failed deliveries are in the range: call again.")

    @classmethod
    def of(cls, r: Recovered) -> RecoverOut:
        return cls(replayed=r.replayed, has_more=r.has_more)


class AttemptOut(BaseModel):
    object: Literal["webhook_attempt"] = "webhook_attempt"
    id: str
    event: str
    delivery: str
    endpoint: str
    attempt: int = Field(description="1 to 10 within one sending (a replay starts again at 1).")
    generation: int = Field(description="0 for the first sending, 1 for the first replay, ...")
    status: Literal["succeeded", "failed"]
    response_status: int | None
    duration_ms: int
    error: str | None
    response_body: str | None = Field(description="The first 2048 bytes of the answer.")
    started_at: datetime
    retry_at: datetime | None = Field(description="When the next attempt was scheduled, if one was.")

    @classmethod
    def of(cls, a: AttemptView) -> AttemptOut:
        return cls(
            id=a.id,
            event=a.event,
            delivery=a.delivery,
            endpoint=a.endpoint,
            attempt=a.attempt,
            generation=a.generation,
            status=a.status,
            response_status=a.response_status,
            duration_ms=a.duration_ms,
            error=a.error,
            response_body=a.response_body,
            started_at=a.started_at,
            retry_at=a.retry_at,
        )
