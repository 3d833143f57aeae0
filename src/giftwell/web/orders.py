"""`/dashboard/orders`: the account's orders (filters, pages), an order's page (items, the
progress of a background order, refreshed while it runs, its cards a page at a time, cancel with
refund), and placing an order from the catalog. The order page never shows codes (the API's
order reads do, and record each showing)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from giftwell.domain.errors import GiftwellError, ValidationFailed
from giftwell.domain.orders import OrderStatus
from giftwell.http.request import get_runtime
from giftwell.services.catalog import products
from giftwell.services.orders import cancelling, order_cards, placing, progress, views
from giftwell.store.uow import UnitOfWork
from giftwell.web.pages import (
    Viewer,
    amount,
    day_param,
    done,
    enum_param,
    field,
    not_found,
    render,
    run_action,
    viewer,
)

router = APIRouter(include_in_schema=False)
OPEN = "open"  # a status filter of the page: pending or processing (the home page's "in flight")
REFRESH_SECONDS = 2  # while a background order runs, its page reloads itself (no script)


@router.get("/dashboard/orders")
async def list_page(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    q = {k: request.query_params.get(k, "").strip() for k in ("status", "reference", "from", "to")}
    found, error = None, None
    try:
        async with get_runtime(request).reader() as uow:
            found = await views.list_orders(
                uow,
                account_id=v.account.id,
                status=None if q["status"] == OPEN else enum_param(OrderStatus, q["status"], "status"),
                open_only=q["status"] == OPEN,
                reference=q["reference"] or None,
                created_gte=day_param(q["from"], "from"),
                created_lte=day_param(q["to"], "to", end=True),
                limit=25,
                cursor=request.query_params.get("cursor"),
            )
    except GiftwellError as exc:
        error = exc.message
    here = "/dashboard/orders?" + urlencode({k: x for k, x in q.items() if x})
    statuses = [OPEN, *(s.value for s in OrderStatus)]
    context = {"q": q, "page": found, "error": error, "statuses": statuses, "here": here}
    return render(request, v, "orders.html", context, 422 if error else 200)


async def _catalog(request: Request) -> list[Any]:
    async with get_runtime(request).reader() as uow:
        return await products.list_products(uow)


async def _new_form(request: Request, v: Viewer, form: dict[str, str], error: str | None = None) -> Response:
    context = {"form": form, "error": error, "products": await _catalog(request)}
    return render(request, v, "order_new.html", context, 422 if error else 200)


@router.get("/dashboard/orders/new")
async def new_order(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    return await _new_form(request, v, {"quantity": "1", "product": request.query_params.get("product", "")})


ORDER_FIELDS = ("product", "amount", "quantity", "reference", "recipient_email", "recipient_name")


@router.post("/dashboard/orders")
async def place(request: Request) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        product = await products.get(uow, field(form, "product"), active_only=True)
        try:
            quantity = int(field(form, "quantity") or "1")
        except ValueError:
            raise ValidationFailed("quantity must be a whole number", param="quantity") from None
        email = field(form, "recipient_email") or None
        item = placing.ItemRequest(
            product=product.id,
            amount=amount(form, "amount", product.currency),
            quantity=quantity,
            recipient={"email": email, "name": field(form, "recipient_name") or None} if email else {},
            delivery={"channel": "email"} if email and form.get("send") == "on" else None,
        )
        reference = field(form, "reference") or "web-" + secrets.token_hex(6)
        order = await placing.place_order(
            uow,
            account_id=v.account.id,
            req=placing.OrderRequest(reference, [item], test=form.get("test") == "on"),
        )
        return done(f"/dashboard/orders/{order.id}", "saved")

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        form = await request.form()
        return await _new_form(request, v, {k: field(form, k) for k in ORDER_FIELDS}, exc.message)

    return await run_action(request, work=work, on_error=on_error)


async def order_page(request: Request, v: Viewer, order_id: str, error: str | None = None) -> Response:
    async with get_runtime(request).reader() as uow:
        found = await progress.progress(uow, account_id=v.account.id, order_id=order_id)
        made = await order_cards.list_cards(
            uow,
            account_id=v.account.id,
            order_id=order_id,
            limit=25,
            cursor=request.query_params.get("cursor"),
            reveal=False,
        )
    running = found.order.status.open
    context = {
        "p": found,
        "o": found.order,
        "cards": made,
        "running": running,
        "refresh": REFRESH_SECONDS,
        "error": error,
    }
    return render(request, v, "order.html", context, 422 if error else 200)


@router.get("/dashboard/orders/{order_id}")
async def show(request: Request, order_id: str) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    try:
        return await order_page(request, v, order_id)
    except GiftwellError:
        return not_found(request, v)


@router.post("/dashboard/orders/{order_id}/cancel")
async def cancel(request: Request, order_id: str) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        await cancelling.cancel(uow, account_id=v.account.id, order_id=order_id)
        return done(f"/dashboard/orders/{order_id}", "cancelled")

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        try:
            return await order_page(request, v, order_id, exc.message)
        except GiftwellError:
            return not_found(request, v)

    return await run_action(request, work=work, on_error=on_error)
