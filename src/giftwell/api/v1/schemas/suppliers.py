"""Upstream suppliers as the operator's API takes and shows them. Credentials go in and never
come out: the answer says only which are set."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt

from giftwell.api.v1.schemas.common import In
from giftwell.domain.orders import MAX_CARDS_PER_ORDER
from giftwell.domain.suppliers import DEFAULT_MAX_QUANTITY
from giftwell.services.catalog.upstream.config import SupplierView

Secret = Annotated[str, Field(min_length=1, max_length=2000)]
MaxQuantity = Annotated[
    StrictInt,
    Field(
        ge=1,
        le=MAX_CARDS_PER_ORDER,
        description="The most cards one upstream order asks for: an order item of more is bought in several "
        "upstream orders, each with its own referenceId (25 by default: WizzGift's limit per item).",
    ),
]
BaseUrl = Annotated[str, Field(max_length=2000, description="The API's base, e.g. https://api.wizzgift.com/api/b2b")]


class SupplierIn(In):
    name: Annotated[str, Field(min_length=2, max_length=40, examples=["acme-upstream"])]
    kind: Literal["wizzgift"] = "wizzgift"
    base_url: BaseUrl
    client_id: Annotated[str, Field(min_length=1, max_length=200)]
    client_secret: Secret
    refresh_token: Secret | None = Field(
        default=None,
        description="From the code flow at the supplier; without one, the client-credentials grant is used.",
    )
    webhook_secret: Secret | None = Field(
        default=None, description="The secret of the webhook endpoint registered at the supplier for our receiver."
    )
    max_quantity: MaxQuantity = DEFAULT_MAX_QUANTITY


class SupplierPatch(In):
    """Any of a supplier's settings; the others keep theirs. Credentials are replaced, never shown."""

    base_url: BaseUrl | None = None
    client_id: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="Our client id at the supplier, for a new client there (resumes a paused supplier)."
    )
    client_secret: Secret | None = Field(default=None, description="A new client secret (resumes a paused supplier).")
    refresh_token: Secret | None = Field(
        default=None, description="A new refresh token from the code flow at the supplier (resumes a paused supplier)."
    )
    webhook_secret: Secret | None = Field(default=None, description="A new secret of our webhook endpoint there.")
    max_quantity: MaxQuantity | None = None
    paused: StrictBool | None = Field(
        default=None,
        description="true: send the supplier nothing until resumed (orders of its products wait); "
        "false: resume it (after a pause for a failed credential, too).",
    )


class SupplierOut(BaseModel):
    object: Literal["supplier"] = "supplier"
    name: str
    kind: str
    base_url: str
    client_id: str
    auth: str = Field(description="refresh_token or client_credentials")
    webhook_secret_set: bool
    max_quantity: int
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
            max_quantity=s.max_quantity,
            status=s.status,
            paused_reason=s.paused_reason,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )
