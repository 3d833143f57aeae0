"""`/v1/signing-keys`: the operator registers, lists and revokes the public keys of clients that
sign their own requests (the Wpay dialect's ES256 JWTs), for any account (`admin`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from giftwell.api.deps import TxDep
from giftwell.api.v1.schemas.common import Items
from giftwell.api.v1.schemas.signing import SigningKeyCreate, SigningKeyOut
from giftwell.http.deps import Admin, RuntimeDep
from giftwell.http.tx import json_response
from giftwell.services.access import signing_keys

router = APIRouter(prefix="/v1/signing-keys", tags=["signing keys"])


@router.post("", status_code=201, response_model=SigningKeyOut, summary="Register a client's public key (operator)")
async def add_key(body: SigningKeyCreate, p: Admin, tx: TxDep) -> Response:
    return await tx.run(
        p,
        lambda uow: signing_keys.add_key(
            uow,
            account_id=body.account,
            kid=body.kid,
            public_key=body.public_key,
            api_client_id=body.api_client_id,
            scopes=body.scopes,
            name=body.name,
        ),
        SigningKeyOut.of,
        status=201,
    )


@router.get("", response_model=Items[SigningKeyOut], summary="List an account's signing keys (operator)")
async def list_keys(p: Admin, rt: RuntimeDep, account: Annotated[str, Query(min_length=1, max_length=40)]) -> Response:
    async with rt.reader() as uow:
        found = await signing_keys.list_keys(uow, account_id=account)
    return json_response(Items.of(found, SigningKeyOut.of))


@router.delete("/{kid}", response_model=SigningKeyOut, summary="Revoke a signing key (operator)")
async def revoke_key(kid: str, p: Admin, tx: TxDep) -> Response:
    return await tx.run(p, lambda uow: signing_keys.revoke_key(uow, kid=kid), SigningKeyOut.of)
