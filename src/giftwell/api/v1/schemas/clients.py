"""OAuth clients as the native API takes and shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool

from giftwell.api.v1.schemas.common import In
from giftwell.services.access.clients import ClientInfo, NewClient

GrantType = Literal["authorization_code", "refresh_token", "client_credentials"]


def _default_grants() -> list[GrantType]:
    return ["authorization_code", "refresh_token"]


class ClientCreate(In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    redirect_uris: Annotated[list[Annotated[str, Field(max_length=2000)]], Field(max_length=10)] = Field(
        default_factory=list
    )
    scopes: Annotated[list[str], Field(min_length=1, max_length=20)]
    grant_types: Annotated[list[GrantType], Field(min_length=1)] = Field(default_factory=_default_grants)
    public: StrictBool = Field(default=False, description="A public client (no secret; PKCE required).")


class ClientOut(BaseModel):
    object: Literal["client"] = "client"
    client_id: str
    name: str
    redirect_uris: list[str]
    scopes: list[str]
    grant_types: list[str]
    token_endpoint_auth_method: str
    created_at: datetime
    secret_rotated_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, c: ClientInfo) -> ClientOut:
        return cls(
            client_id=c.client_id,
            name=c.name,
            redirect_uris=list(c.redirect_uris),
            scopes=list(c.scopes),
            grant_types=list(c.grant_types),
            token_endpoint_auth_method=c.token_endpoint_auth_method,
            created_at=c.created_at,
            secret_rotated_at=c.secret_rotated_at,
            revoked_at=c.revoked_at,
        )


class ClientWithSecretOut(ClientOut):
    client_secret: str | None = Field(description="Shown once: store it now. Null for a public client.")

    @classmethod
    def new(cls, n: NewClient) -> ClientWithSecretOut:
        return cls(**ClientOut.of(n.client).model_dump(), client_secret=n.client_secret)
