"""`/v1/products`: browse the catalog (`products:read`); the operator writes it (`admin`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from giftwell.api.deps import TxDep
from giftwell.api.v1.schemas.catalog import ProductIn, ProductOut, ProductPatch
from giftwell.api.v1.schemas.common import Items
from giftwell.domain.catalog import Product
from giftwell.http.deps import Admin, ProductsRead, RuntimeDep
from giftwell.http.tx import json_response
from giftwell.services.catalog import products
from giftwell.store.uow import UnitOfWork

router = APIRouter(prefix="/v1/products", tags=["products"])


@router.get("", response_model=Items[ProductOut], summary="List the products you may buy")
async def list_products(
    p: ProductsRead,
    rt: RuntimeDep,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    async with rt.uow() as uow:
        found = await products.list_products(uow, country=country, currency=currency, category=category)
    return json_response(Items.of(found, ProductOut.of))


@router.get("/{product_id}", response_model=ProductOut, summary="Get a product")
async def get_product(product_id: str, p: ProductsRead, rt: RuntimeDep) -> Response:
    async with rt.uow() as uow:
        found = await products.get(uow, product_id, active_only="admin" not in p.scopes)
    return json_response(ProductOut.of(found))


@router.post("", status_code=201, response_model=ProductOut, summary="Add a product (operator)")
async def create_product(body: ProductIn, p: Admin, tx: TxDep) -> Response:
    async def create(uow: UnitOfWork) -> Product:
        return (await products.save(uow, body.data(), create_only=True)).product

    return await tx.run(p, create, ProductOut.of, status=201)


@router.patch("/{product_id}", response_model=ProductOut, summary="Change a product (operator)")
async def update_product(product_id: str, body: ProductPatch, p: Admin, tx: TxDep) -> Response:
    return await tx.run(p, lambda uow: products.update(uow, product_id, body.data()), ProductOut.of)
