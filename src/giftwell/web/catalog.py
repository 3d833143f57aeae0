"""`/dashboard/catalog` (operator): products with denominations, prices, suppliers and designs;
import a JSON file; activate and deactivate; a product's page, where its designs (the Wpay
dialect's `designId`s: an id, a name and an image, shown in the card's email and on the reward
page) are added and removed, and its expiry policy (a minimum card lifetime) is set.

Every change goes through `services.catalog.products` (checked as the API checks a product,
recorded as `product.updated` in the audit log)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from giftwell.domain.errors import GiftwellError, NotFound, ValidationFailed
from giftwell.http.request import get_runtime
from giftwell.services.catalog import products
from giftwell.store.uow import UnitOfWork
from giftwell.web.pages import Viewer, done, expiry_policy, field, not_found, render, run_action, viewer

router = APIRouter(include_in_schema=False)
MAX_IMPORT_BYTES = 2_000_000


@router.get("/dashboard/catalog")
async def catalog(request: Request) -> Response:
    v = await viewer(request, operator=True)
    if isinstance(v, Response):
        return v
    return await _catalog_page(request, v)


async def _catalog_page(request: Request, v: Viewer, error: str | None = None) -> Response:
    async with get_runtime(request).reader() as uow:
        found = await products.list_products(uow, active_only=False)
    return render(request, v, "catalog.html", {"products": found, "error": error}, 422 if error else 200)


def _catalog_error(request: Request) -> Any:
    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        return await _catalog_page(request, v, exc.message)

    return on_error


@router.post("/dashboard/catalog/import")
async def catalog_import(request: Request) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed("choose a JSON file", param="file")
        raw = await upload.read(MAX_IMPORT_BYTES + 1)
        if len(raw) > MAX_IMPORT_BYTES:
            raise ValidationFailed(f"the file may be at most {MAX_IMPORT_BYTES:,} bytes", param="file")
        try:
            items = json.loads(raw)
        except ValueError as exc:
            raise ValidationFailed(f"the file is not JSON: {exc}", param="file") from None
        if not isinstance(items, list):
            raise ValidationFailed("the file must hold a JSON list of products", param="file")
        await products.import_products(uow, items)
        return done("/dashboard/catalog", "imported")

    return await run_action(request, operator=True, work=work, on_error=_catalog_error(request))


@router.get("/dashboard/catalog/{product_id}")
async def product_page(request: Request, product_id: str) -> Response:
    v = await viewer(request, operator=True)
    if isinstance(v, Response):
        return v
    return await _product_page(request, v, product_id)


async def _product_page(
    request: Request, v: Viewer, product_id: str, form: dict[str, str] | None = None, error: str | None = None
) -> Response:
    try:
        async with get_runtime(request).reader() as uow:
            product = await products.get(uow, product_id)
    except NotFound:
        return not_found(request, v)
    context = {"p": product, "form": form or {}, "error": error}
    return render(request, v, "product.html", context, 422 if error else 200)


def _designs(p: Any) -> list[dict[str, str]]:
    return [d.as_dict() for d in p.designs]


@router.post("/dashboard/catalog/{product_id}/designs")
async def add_design(request: Request, product_id: str) -> Response:
    """Add a design, or replace the one of the same id (its name and image)."""

    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        current = await products.get(uow, product_id)
        new = {"id": field(form, "design_id"), "name": field(form, "name"), "image_url": field(form, "image_url")}
        designs = _designs(current)
        at = next((i for i, d in enumerate(designs) if d["id"] == new["id"]), len(designs))
        designs[at : at + 1] = [new]  # replaced where it stood, or added last
        try:
            await products.update(uow, product_id, {"designs": designs})
        except ValidationFailed as exc:
            # The service names the field by its place in the list; the form has one of each.
            exc.message = exc.message.replace(f"designs[{at}].", "design ")
            raise
        return done(f"/dashboard/catalog/{product_id}", "saved")

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        form = {k: x for k, x in (await request.form()).items() if isinstance(x, str) and k != "csrf"}
        return await _product_page(request, v, product_id, form, exc.message)

    return await run_action(request, operator=True, work=work, on_error=on_error)


@router.post("/dashboard/catalog/{product_id}/designs/{design_id}/remove")
async def remove_design(request: Request, product_id: str, design_id: str) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        current = await products.get(uow, product_id)
        kept = [d for d in _designs(current) if d["id"] != design_id]
        if len(kept) == len(current.designs):
            raise NotFound("no such design", param="design")
        await products.update(uow, product_id, {"designs": kept})
        return done(f"/dashboard/catalog/{product_id}", "removed")

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        return await _product_page(request, v, product_id, None, exc.message)

    return await run_action(request, operator=True, work=work, on_error=on_error)


@router.post("/dashboard/catalog/{product_id}/expiry-policy")
async def product_expiry_policy(request: Request, product_id: str) -> Response:
    """The product's minimum card lifetime, checked at issue beside the account's."""

    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        policy = expiry_policy(form)
        await products.update(uow, product_id, {"expiry_policy": policy.as_dict() if policy else None})
        return done(f"/dashboard/catalog/{product_id}", "saved")

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        return await _product_page(request, v, product_id, None, exc.message)

    return await run_action(request, operator=True, work=work, on_error=on_error)


@router.post("/dashboard/catalog/{product_id}/{state}")
async def catalog_state(request: Request, product_id: str, state: str) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        if state not in ("activate", "deactivate"):
            raise ValidationFailed("no such action", param="action")
        await products.update(uow, product_id, {"active": state == "activate"})
        return done("/dashboard/catalog", "saved")

    return await run_action(request, operator=True, work=work, on_error=_catalog_error(request))
