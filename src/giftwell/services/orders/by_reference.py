"""Orders of one product with amounts in major units, named by the buyer's reference: what the
WizzGift dialect (`POST /order`, `GET /order?id=|referenceId=`) asks of the orders.

Placing converts the request to a native `OrderRequest` (the amount to minor units of the
product's currency: more decimals than it has are refused, never rounded; a refusal of the
amount worded in major units) with a fingerprint of what it asks for, and hands it to
`references.submit`, the one owner of placing by reference: the same request again answers the
same order, another request with a used reference is a `Conflict` naming `reference`, racing
requests end in one order. `10` and `10.00` are the same request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from decimal import Decimal

import sqlalchemy as sa

from giftwell.domain.catalog import Product
from giftwell.domain.errors import NotFound, ValidationFailed
from giftwell.domain.money import to_major, to_minor
from giftwell.services.catalog import products
from giftwell.services.currencies import currency
from giftwell.services.orders import references
from giftwell.services.orders import views as order_views
from giftwell.services.orders.placing import ItemRequest, OrderRequest
from giftwell.services.orders.views import OrderView
from giftwell.services.runtime import Runtime
from giftwell.store.models import Order
from giftwell.store.uow import UnitOfWork

ITEM = "items[0]"


@dataclass(frozen=True, slots=True)
class ReferencedOrder:
    """One product, `quantity` cards of `amount` (major units of the product's currency)."""

    reference: str
    product_id: str
    amount: Decimal
    quantity: int
    fields: dict[str, str]
    test: bool = False


@dataclass(frozen=True, slots=True)
class Shown:
    """An order with its cards (codes shown, the showing recorded) and each product's redemption
    instructions, by product id."""

    order: OrderView
    instructions: dict[str, str]


async def _native(uow: UnitOfWork, req: ReferencedOrder) -> OrderRequest:
    try:
        product = await products.get(uow, req.product_id)
    except NotFound:
        raise ValidationFailed(f"no such product {req.product_id!r}", param=f"{ITEM}.product", rule="unknown") from None
    cur = currency(product.currency)
    try:
        amount = to_minor(req.amount, cur, param="amount")
    except ValidationFailed as exc:
        exc.param = f"{ITEM}.amount"
        raise
    try:
        product.denominations.check(amount, param=f"{ITEM}.amount")
    except ValidationFailed as exc:
        # The same refusal in the units the caller used (50 USD, not 5000).
        exc.message = _major_message(exc, product)
        raise
    return OrderRequest(
        req.reference, [ItemRequest(req.product_id, amount, req.quantity, fields=dict(req.fields))], req.test
    )


def _major_message(exc: ValidationFailed, product: Product) -> str:
    cur, code = currency(product.currency), product.currency

    def major(v: object) -> str:
        return f"{to_major(v, cur):f} {code}" if isinstance(v, int) else str(v)

    d, rule = product.denominations, exc.fields.get("rule")
    if rule == "range":
        return f"amount must be between {major(d.min)} and {major(d.max)}"
    if rule == "step":
        return f"amount must be {major(d.min)} plus a multiple of {major(d.step)}"
    if rule == "values":
        return "amount must be one of " + ", ".join(major(v) for v in d.values)
    return exc.message


def _fingerprint(req: OrderRequest) -> str:
    (item,) = req.items
    what = {"product": item.product, "amount": item.amount, "quantity": item.quantity, "fields": item.fields}
    return hashlib.sha256(json.dumps({**what, "test": req.test}, sort_keys=True).encode()).hexdigest()


async def place_once(rt: Runtime, *, account_id: str, req: ReferencedOrder) -> OrderView:
    """Place the order, or answer the one placed before with this same request (see the module
    docstring). Returns the order without its cards."""
    async with rt.reader() as uow:
        native = await _native(uow, req)
    native = replace(native, fingerprint=_fingerprint(native))
    return (await references.submit(rt, account_id=account_id, req=native, show_codes=False)).order


async def instructions_of(uow: UnitOfWork, order: OrderView) -> dict[str, str]:
    """Each of the order's products' redemption instructions, by product id."""
    out: dict[str, str] = {}
    for item in order.items or []:
        if item.product is not None and item.product not in out:
            out[item.product] = (await products.get(uow, item.product)).redemption_instructions
    return out


async def show(uow: UnitOfWork, *, account_id: str, order_id: str | None, reference: str | None) -> Shown:
    """The caller's order by id or reference (given both, both must name it), with its cards'
    codes (each showing recorded, as `views.reveal_order` does). Another account's order, like a
    missing one, is `NotFound`."""
    if order_id is not None:
        found = await order_views.summary(uow, account_id=account_id, order_id=order_id)
        if reference is not None and found.reference != reference:
            raise NotFound("no such order", param="order")
    else:
        assert reference is not None
        q = sa.select(Order.id).where(Order.account_id == account_id, Order.reference == reference.strip())
        order_id = (await uow.conn.execute(q)).scalar_one_or_none()
        if order_id is None:
            raise NotFound("no such order", param="order")
    order = await order_views.reveal_order(uow, account_id=account_id, order_id=order_id)
    return Shown(order, await instructions_of(uow, order))


async def reveal(rt: Runtime, *, account_id: str, order_id: str | None, reference: str | None) -> Shown:
    """`show` in a unit of work of its own, committed: reading codes writes (each showing is
    recorded), so a surface that opens no transaction calls this."""
    return await rt.transact(lambda uow: show(uow, account_id=account_id, order_id=order_id, reference=reference))
