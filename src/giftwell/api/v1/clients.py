"""`/v1/clients`: the account's OAuth API clients. The secret is in the create and
rotate-secret responses only."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from giftwell.api.deps import TxDep
from giftwell.api.v1.schemas.clients import ClientCreate, ClientOut, ClientWithSecretOut
from giftwell.api.v1.schemas.common import Items
from giftwell.http.deps import AccountRead, AccountWrite, RuntimeDep
from giftwell.http.tx import json_response
from giftwell.services.access import clients

router = APIRouter(prefix="/v1/clients", tags=["clients"])


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


@router.get("", response_model=Items[ClientOut], summary="List the account's API clients")
async def list_clients(p: AccountRead, rt: RuntimeDep) -> Response:
    async with rt.reader() as uow:
        found = await clients.list_clients(uow, account_id=p.account_id)
    return json_response(Items.of(found, ClientOut.of))


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
