"""`/v1/audit-events`: the account's audit log of administrative actions (`audit:read`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from giftwell.api.v1.schemas.audit import AuditEventOut
from giftwell.api.v1.schemas.common import Page, UtcDatetime
from giftwell.http.deps import AuditRead, RuntimeDep
from giftwell.http.tx import json_response
from giftwell.services.audit import records

router = APIRouter(prefix="/v1/audit-events", tags=["audit"])


@router.get(
    "",
    response_model=Page[AuditEventOut],
    summary="The account's audit log, newest first",
    description="Every administrative action on the account: who (token, user, operator), when, from where, and "
    "what changed. Append-only. `action` takes one action (`card.blocked`) or a family (`card.*`).",
)
async def list_audit_events(
    p: AuditRead,
    rt: RuntimeDep,
    action: Annotated[str | None, Query(max_length=60)] = None,
    created_gte: UtcDatetime | None = None,
    created_lte: UtcDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: str | None = None,
) -> Response:
    async with rt.reader() as uow:
        page = await records.list_events(
            uow,
            account_id=p.account_id,
            action=action,
            since=created_gte,
            until=created_lte,
            limit=limit,
            cursor=cursor,
        )
    return json_response(Page.of(page, AuditEventOut.of))
