"""Shapes of `/v1/audit-events`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from giftwell.services.audit.records import AuditView


class AuditTarget(BaseModel):
    type: str = Field(description="What was acted on: card, client, token, user, product, account, ...")
    id: str | None


class AuditActor(BaseModel):
    type: str = Field(description="token (an API caller), user (the dashboard), cli (an operator's shell), system")
    id: str | None = Field(description="The token's or user's id, or `user@host` for the CLI.")
    account_id: str | None = Field(description="The account the actor belongs to.")
    ip: str | None = Field(description="Where the request came from (behind a trusted proxy: what it forwarded).")
    request_id: str | None


class AuditEventOut(BaseModel):
    object: Literal["audit_event"] = "audit_event"
    id: str
    occurred_at: datetime
    action: str = Field(description="`<object>.<verb>`: card.blocked, client.created, funding.added, ...")
    target: AuditTarget
    actor: AuditActor
    changes: dict[str, Any] = Field(description="The new values, or `{field: [before, after]}` for a change.")

    @classmethod
    def of(cls, e: AuditView) -> AuditEventOut:
        d = e.as_dict()
        return cls(
            id=e.id,
            occurred_at=e.occurred_at,
            action=e.action,
            target=AuditTarget(**d["target"]),
            actor=AuditActor(**d["actor"]),
            changes=e.changes,
        )
