"""`/v1/clients`: the account's OAuth API clients. The secret is in the create and
rotate-secret responses only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictBool
from starlette.responses import Response

from giftwell.api.deps import TxDep
from giftwell.api.v1.schemas import In
from giftwell.http.deps import AccountRead, AccountWrite, RuntimeDep
from giftwell.http.tx import json_response
from giftwell.services.access import clients
from giftwell.services.access.clients import ClientInfo, NewClient

router = APIRouter(prefix="/v1/clients", tags=["clients"])

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


class ClientList(BaseModel):
    data: list[ClientOut]


@router.post("", status_code=201, response_model=ClientWithSecretOut, summary="Register an API client")
async def create_client(body: ClientCreate, p: AccountWrite, tx: TxDep) -> Response:
    return await tx.run(
        p,
        lambda uow: clients.create_client(
            uow,
            account_id=p.account_id,
            name=body.name,
            redirect_uris=body.redirect_uris,
            scopes=body.scopes,
            grant_types=list(body.grant_types),
            public=body.public,
            grantable=p.scopes,
        ),
        ClientWithSecretOut.new,
        status=201,
    )


@router.get("", response_model=ClientList, summary="List the account's API clients")
async def list_clients(p: AccountRead, rt: RuntimeDep) -> Response:
    async with rt.reader() as uow:
        found = await clients.list_clients(uow, account_id=p.account_id)
    return json_response(ClientList(data=[ClientOut.of(c) for c in found]))


@router.get("/{client_id}", response_model=ClientOut, summary="Get an API client")
async def get_client(client_id: str, p: AccountRead, rt: RuntimeDep) -> Response:
    async with rt.reader() as uow:
        found = await clients.access_client(uow, account_id=p.account_id, client_id=client_id)
    return json_response(ClientOut.of(found))


@router.post("/{client_id}/rotate-secret", response_model=ClientWithSecretOut, summary="Replace the client's secret")
async def rotate_secret(client_id: str, p: AccountWrite, tx: TxDep) -> Response:
    return await tx.run(
        p,
        lambda uow: clients.rotate_secret(uow, account_id=p.account_id, client_id=client_id),
        ClientWithSecretOut.new,
    )


@router.delete("/{client_id}", response_model=ClientOut, summary="Revoke a client and all its tokens")
async def revoke_client(client_id: str, p: AccountWrite, tx: TxDep) -> Response:
    return await tx.run(
        p, lambda uow: clients.revoke_client(uow, account_id=p.account_id, client_id=client_id), ClientOut.of
    )
