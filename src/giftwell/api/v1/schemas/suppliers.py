"""Upstream suppliers as the operator's API takes and shows them. Credentials go in and never
come out: the answer says only which are set."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from giftwell.api.v1.schemas.common import In
from giftwell.services.catalog.upstream.config import SupplierView

Secret = Annotated[str, Field(min_length=1, max_length=2000)]


class SupplierIn(In):
    name: Annotated[str, Field(min_length=2, max_length=40, examples=["acme-upstream"])]
    kind: Literal["wizzgift"] = "wizzgift"
    base_url: Annotated[
        str, Field(max_length=2000, description="The API's base, e.g. https://api.wizzgift.com/api/b2b")
    ]
    client_id: Annotated[str, Field(min_length=1, max_length=200)]
    client_secret: Secret
    refresh_token: Secret | None = Field(
        default=None,
        description="From the code flow at the supplier; without one, the client-credentials grant is used.",
    )
    webhook_secret: Secret | None = Field(
        default=None, description="The secret of the webhook endpoint registered at the supplier for our receiver."
    )


class SupplierOut(BaseModel):
    object: Literal["supplier"] = "supplier"
    name: str
    kind: str
    base_url: str
    client_id: str
    auth: str = Field(description="refresh_token or client_credentials")
    webhook_secret_set: bool
    status: str = Field(description="active, or paused (its credentials failed; see paused_reason)")
    paused_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: SupplierView) -> SupplierOut:
        return cls(
            name=s.name,
            kind=s.kind,
            base_url=s.base_url,
            client_id=s.client_id,
            auth=s.auth,
            webhook_secret_set=s.webhook_secret_set,
            status=s.status,
            paused_reason=s.paused_reason,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )
