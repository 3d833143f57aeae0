"""Signing keys (clients that sign their requests, the Wpay dialect) as the operator API takes
and shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from giftwell.api.v1.schemas.common import In
from giftwell.services.access.signing_keys import SigningKeyInfo


class SigningKeyCreate(In):
    account: Annotated[str, Field(min_length=1, max_length=40, description="The account the client acts for.")]
    kid: Annotated[str, Field(min_length=1, max_length=100, description="The key id of the client's JWT header.")]
    public_key: Annotated[
        str, Field(min_length=1, max_length=4096, description="The client's EC P-256 public key, PEM (SPKI).")
    ]
    api_client_id: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="Add the key to this apiClientId (a rotation); absent: a new client."
    )
    scopes: Annotated[list[str], Field(min_length=1, max_length=20)] | None = Field(
        default=None, description="Scopes of a new client; default orders:read, orders:write, products:read."
    )
    name: Annotated[str, Field(max_length=200)] | None = Field(default=None, description="A label for a new client.")


class SigningKeyOut(BaseModel):
    object: Literal["signing_key"] = "signing_key"
    kid: str
    api_client_id: str
    account: str
    name: str
    scopes: list[str]
    thumbprint: str = Field(description="The key's RFC 7638 JWK thumbprint (SHA-256, base64url).")
    public_key: str
    active: bool
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, k: SigningKeyInfo) -> SigningKeyOut:
        return cls(
            kid=k.kid,
            api_client_id=k.api_client_id,
            account=k.account_id,
            name=k.name,
            scopes=list(k.scopes),
            thumbprint=k.thumbprint,
            public_key=k.public_key,
            active=k.active,
            created_at=k.created_at,
            revoked_at=k.revoked_at,
        )
