"""`/v1/suppliers`: the operator's upstream suppliers (`admin`), and `/hooks/suppliers/{name}`,
where an upstream's order webhooks arrive (no token: the `X-Signature` is checked against the
supplier's webhook secret; limited per address)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from giftwell.api.deps import TxDep
from giftwell.api.v1.schemas.common import Items
from giftwell.api.v1.schemas.suppliers import SupplierIn, SupplierOut, SupplierPatch
from giftwell.http.deps import Admin, RuntimeDep
from giftwell.http.limits import limit_ip
from giftwell.http.tx import json_response
from giftwell.services.catalog.upstream import config
from giftwell.services.orders import upstream

router = APIRouter(prefix="/v1/suppliers", tags=["suppliers"])
hooks = APIRouter(tags=["suppliers"])


@router.post("", status_code=201, response_model=SupplierOut, summary="Add an upstream supplier")
async def add_supplier(body: SupplierIn, p: Admin, tx: TxDep) -> Response:
    """An upstream WizzGift-compatible API whose products the catalog may sell (a product names it
    in `supplier`, with the upstream's product id in `supplier_product`). The credentials are
    stored encrypted and never shown again. 409 `conflict` for a name in use."""
    return await tx.run(
        p,
        lambda uow: config.add_supplier(
            uow,
            name=body.name,
            kind=body.kind,
            base_url=body.base_url,
            client_id=body.client_id,
            client_secret=body.client_secret,
            refresh_token=body.refresh_token,
            webhook_secret=body.webhook_secret,
            max_quantity=body.max_quantity,
        ),
        SupplierOut.of,
        status=201,
    )


@router.get("", response_model=Items[SupplierOut], summary="List the upstream suppliers")
async def list_suppliers(p: Admin, rt: RuntimeDep) -> Response:
    async with rt.reader() as uow:
        found = await config.list_suppliers(uow)
    return json_response(Items.of(found, SupplierOut.of))


@router.get("/{name}", response_model=SupplierOut, summary="An upstream supplier")
async def get_supplier(name: str, p: Admin, rt: RuntimeDep) -> Response:
    """The supplier's settings and state (`paused_reason` when paused); never a credential."""
    async with rt.reader() as uow:
        found = await config.by_name(uow, name)
    return json_response(SupplierOut.of(found))


@router.patch("/{name}", response_model=SupplierOut, summary="Change an upstream supplier")
async def update_supplier(name: str, body: SupplierPatch, p: Admin, tx: TxDep) -> Response:
    """The operator API's `giftwell suppliers update`: a new base URL, client id, client secret,
    refresh token or webhook secret (secrets stored encrypted, never shown again; a new client
    id, client secret or refresh token drops the cached access token and resumes a paused
    supplier), a new `max_quantity`
    (items already being bought keep their parts), or `paused`: true stops everything sent to
    the supplier (`supplier.paused` event), false resumes it (`supplier.resumed`). 404 for an
    unknown name, 422 naming the field for a refused value."""
    return await tx.run(
        p,
        lambda uow: config.update_supplier(
            uow,
            name=name,
            base_url=body.base_url,
            client_id=body.client_id,
            client_secret=body.client_secret,
            refresh_token=body.refresh_token,
            webhook_secret=body.webhook_secret,
            max_quantity=body.max_quantity,
            resume=body.paused is False,
            pause=body.paused is True,
        ),
        SupplierOut.of,
    )


@hooks.post(
    "/hooks/suppliers/{name}",
    summary="An upstream supplier's order webhook (WizzGift's body, signed in X-Signature)",
    dependencies=[Depends(limit_ip)],
)
async def supplier_webhook(name: str, request: Request, rt: RuntimeDep) -> Response:
    """Register this URL at the supplier for the WizzGift format, and give its secret to
    `giftwell suppliers update NAME --webhook-secret-stdin`. A completed, partial or failed order
    of ours settles its cards at once; anything else is acknowledged and ignored. 401 for a
    wrong or missing signature."""
    settled = await upstream.receive(
        rt, supplier=name, body=await request.body(), signature=request.headers.get("x-signature")
    )
    return Response(
        b'{"received":true,"settled":' + (b"true" if settled else b"false") + b"}", 200, media_type="application/json"
    )
