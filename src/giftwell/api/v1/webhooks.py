"""`/v1/webhook-endpoints` and `/v1/events`: register receivers, see the events and every
attempt, replay. Every route needs `webhooks:write`. See docs/webhooks.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StrictBool, StrictInt
from starlette.responses import Response

from giftwell.api.deps import TxDep, page_out
from giftwell.api.v1.schemas import In, UtcDatetime
from giftwell.domain.webhooks import EVENT_TYPES, Format
from giftwell.http.deps import RuntimeDep, WebhooksWrite
from giftwell.http.tx import json_response
from giftwell.services import events
from giftwell.services.events import EventView
from giftwell.services.webhooks import endpoints as webhook_endpoints
from giftwell.services.webhooks import replay
from giftwell.services.webhooks.endpoints import EndpointView, WithSecret
from giftwell.services.webhooks.replay import AttemptView, DeliveryView, Recovered

endpoints = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])
events_router = APIRouter(prefix="/v1/events", tags=["webhooks"])

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


class EndpointList(BaseModel):
    data: list[EndpointOut]


class EventOut(BaseModel):
    object: Literal["event"] = "event"
    id: str = Field(description="Also the `webhook-id` of every delivery of this event.")
    type: str
    created_at: datetime
    data: dict[str, Any]

    @classmethod
    def of(cls, e: EventView) -> EventOut:
        return cls(id=e.id, type=e.type, created_at=e.created_at, data=e.data)


class EventList(BaseModel):
    data: list[EventOut]
    has_more: bool
    next_cursor: str | None


class ReplayIn(In):
    endpoint: Annotated[str | None, Field(max_length=40, description="Only to this endpoint.")] = None


class DeliveryOut(BaseModel):
    id: str
    event: str
    endpoint: str
    status: str
    generation: int

    @classmethod
    def of(cls, d: DeliveryView) -> DeliveryOut:
        return cls(id=d.id, event=d.event, endpoint=d.endpoint, status=d.status, generation=d.generation)


class ReplayOut(BaseModel):
    data: list[DeliveryOut]


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


class AttemptList(BaseModel):
    data: list[AttemptOut]
    has_more: bool
    next_cursor: str | None


@endpoints.post("", status_code=201, response_model=EndpointWithSecretOut, summary="Register a webhook endpoint")
async def create_endpoint(body: EndpointIn, p: WebhooksWrite, tx: TxDep) -> Response:
    return await tx.run(
        p,
        lambda uow: webhook_endpoints.create_endpoint(
            uow,
            account_id=p.account_id,
            url=body.url,
            events=body.events,
            format=body.format.value,
            enabled=body.enabled,
            description=body.description,
        ),
        EndpointWithSecretOut.new,
        status=201,
    )


@endpoints.get("", response_model=EndpointList, summary="List the account's webhook endpoints")
async def list_endpoints(p: WebhooksWrite, rt: RuntimeDep) -> Response:
    async with rt.reader() as uow:
        found = await webhook_endpoints.list_endpoints(uow, account_id=p.account_id)
    return json_response(EndpointList(data=[EndpointOut.of(e) for e in found]))


@endpoints.get("/{endpoint_id}", response_model=EndpointOut, summary="Get a webhook endpoint")
async def get_endpoint(endpoint_id: str, p: WebhooksWrite, rt: RuntimeDep) -> Response:
    async with rt.reader() as uow:
        found = await webhook_endpoints.access_endpoint(uow, account_id=p.account_id, endpoint_id=endpoint_id)
    return json_response(EndpointOut.of(found))


@endpoints.patch("/{endpoint_id}", response_model=EndpointOut, summary="Change a webhook endpoint")
async def update_endpoint(endpoint_id: str, body: EndpointPatch, p: WebhooksWrite, tx: TxDep) -> Response:
    patch = body.model_dump(exclude_unset=True)
    if "format" in patch and patch["format"] is not None:
        patch["format"] = patch["format"].value
    return await tx.run(
        p,
        lambda uow: webhook_endpoints.update_endpoint(
            uow, account_id=p.account_id, endpoint_id=endpoint_id, patch=patch
        ),
        EndpointOut.of,
    )


@endpoints.delete("/{endpoint_id}", response_model=EndpointOut, summary="Delete a webhook endpoint")
async def delete_endpoint(endpoint_id: str, p: WebhooksWrite, tx: TxDep) -> Response:
    return await tx.run(
        p,
        lambda uow: webhook_endpoints.delete_endpoint(uow, account_id=p.account_id, endpoint_id=endpoint_id),
        EndpointOut.of,
    )


@endpoints.post(
    "/{endpoint_id}/rotate-secret",
    response_model=EndpointWithSecretOut,
    summary="Replace the signing secret (both sign during the overlap)",
)
async def rotate_secret(endpoint_id: str, p: WebhooksWrite, tx: TxDep, body: RotateIn | None = None) -> Response:
    overlap = body.overlap_seconds if body is not None else None
    return await tx.run(
        p,
        lambda uow: webhook_endpoints.rotate_secret(
            uow, account_id=p.account_id, endpoint_id=endpoint_id, overlap_seconds=overlap
        ),
        EndpointWithSecretOut.new,
    )


@endpoints.get("/{endpoint_id}/attempts", response_model=AttemptList, summary="Every delivery attempt to the endpoint")
async def list_attempts(
    endpoint_id: str,
    p: WebhooksWrite,
    rt: RuntimeDep,
    event: Annotated[str | None, Query(max_length=40)] = None,
    status: Literal["succeeded", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Response:
    async with rt.reader() as uow:
        page = await replay.list_attempts(
            uow,
            account_id=p.account_id,
            endpoint_id=endpoint_id,
            event_id=event,
            status=status,
            limit=limit,
            cursor=cursor,
        )
    return json_response(AttemptList(**page_out(page, AttemptOut.of)))


@endpoints.post(
    "/{endpoint_id}/recover",
    response_model=RecoverOut,
    summary="Send again every event whose delivery to this endpoint failed, in a time range",
)
async def recover(endpoint_id: str, body: RecoverIn, p: WebhooksWrite, tx: TxDep) -> Response:
    return await tx.run(
        p,
        lambda uow: replay.recover(
            uow, account_id=p.account_id, endpoint_id=endpoint_id, since=body.since, until=body.until
        ),
        RecoverOut.of,
    )


@events_router.get("", response_model=EventList, summary="List the account's events, newest first")
async def list_events(
    p: WebhooksWrite,
    rt: RuntimeDep,
    type: Annotated[str | None, Query(max_length=60)] = None,
    created_gte: UtcDatetime | None = None,
    created_lte: UtcDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Response:
    async with rt.reader() as uow:
        page = await events.list_events(
            uow,
            account_id=p.account_id,
            type=type,
            created_gte=created_gte,
            created_lte=created_lte,
            limit=limit,
            cursor=cursor,
        )
    return json_response(EventList(**page_out(page, EventOut.of)))


@events_router.get("/{event_id}", response_model=EventOut, summary="Get an event")
async def get_event(event_id: str, p: WebhooksWrite, rt: RuntimeDep) -> Response:
    async with rt.reader() as uow:
        found = await events.access_event(uow, account_id=p.account_id, event_id=event_id)
    return json_response(EventOut.of(found))


@events_router.post(
    "/{event_id}/replay",
    response_model=ReplayOut,
    summary="Send an event again (same webhook-id) to the endpoints that subscribe to it",
)
async def replay_event(event_id: str, p: WebhooksWrite, tx: TxDep, body: ReplayIn | None = None) -> Response:
    endpoint = body.endpoint if body is not None else None
    return await tx.run(
        p,
        lambda uow: replay.replay_event(uow, account_id=p.account_id, event_id=event_id, endpoint_id=endpoint),
        lambda found: ReplayOut(data=[DeliveryOut.of(d) for d in found]),
    )
