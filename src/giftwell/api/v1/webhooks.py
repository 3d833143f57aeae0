"""`/v1/webhook-endpoints` and `/v1/events`: register receivers, see the events and every
attempt, replay. Every route needs `webhooks:write`. See docs/webhooks.md."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from giftwell.api.deps import TxDep
from giftwell.api.v1.schemas.common import Items, Page, UtcDatetime
from giftwell.api.v1.schemas.webhooks import (
    AttemptOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EndpointWithSecretOut,
    EventOut,
    RecoverIn,
    RecoverOut,
    ReplayIn,
    ReplayOut,
    RotateIn,
    WebhookDeliveryOut,
)
from giftwell.http.deps import RuntimeDep, WebhooksWrite
from giftwell.http.tx import json_response
from giftwell.services import events
from giftwell.services.webhooks import endpoints as webhook_endpoints
from giftwell.services.webhooks import replay

endpoints = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])
events_router = APIRouter(prefix="/v1/events", tags=["webhooks"])


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


@endpoints.get("", response_model=Items[EndpointOut], summary="List the account's webhook endpoints")
async def list_endpoints(p: WebhooksWrite, rt: RuntimeDep) -> Response:
    async with rt.reader() as uow:
        found = await webhook_endpoints.list_endpoints(uow, account_id=p.account_id)
    return json_response(Items.of(found, EndpointOut.of))


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


@endpoints.get(
    "/{endpoint_id}/attempts", response_model=Page[AttemptOut], summary="Every delivery attempt to the endpoint"
)
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
    return json_response(Page.of(page, AttemptOut.of))


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


@events_router.get("", response_model=Page[EventOut], summary="List the account's events, newest first")
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
    return json_response(Page.of(page, EventOut.of))


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
        lambda found: ReplayOut(data=[WebhookDeliveryOut.of(d) for d in found]),
    )
