"""Orders named by the buyer's own reference, one product each, amounts in major units: what the
B2B dialects (WizzGift's `POST /order` and `GET /order?referenceId=`) ask of the orders.

The reference is the idempotency key. Placing again with a used reference answers the order
already placed when the request is the same (product, amount, quantity, required fields, test
flag), and is a `Conflict` naming `reference` when it is not. No stored response is needed for
that: the order itself is the record, so a retry a year later gets the same answer. Of two
requests racing with one reference, the database's unique (account, reference) lets one insert;
the other sees the first once it has committed and compares with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from giftwell.domain.catalog import Product
from giftwell.domain.errors import Conflict, NotFound, ValidationFailed
from giftwell.domain.money import to_major, to_minor
from giftwell.services.catalog import products
from giftwell.services.currencies import currency
from giftwell.services.orders import placing
from giftwell.services.orders import views as order_views
from giftwell.services.orders.placing import ItemRequest, OrderRequest
from giftwell.services.orders.views import OrderView
from giftwell.services.runtime import Runtime
from giftwell.store.models import Order, OrderItem
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


async def _same(uow: UnitOfWork, order: Any, req: OrderRequest) -> bool:
    items = (await uow.conn.execute(sa.select(OrderItem).where(OrderItem.order_id == order.id))).all()
    if len(items) != 1 or bool(order.test) != req.test:
        return False
    (item,), (want,) = items, req.items
    return (item.product_id, int(item.amount), int(item.quantity), dict(item.fields)) == (
        want.product,
        want.amount,
        want.quantity,
        want.fields,
    )


async def _by_reference(uow: UnitOfWork, account_id: str, reference: str) -> Any:
    q = sa.select(Order).where(Order.account_id == account_id, Order.reference == reference)
    return (await uow.conn.execute(q)).first()


async def place_once(rt: Runtime, *, account_id: str, req: ReferencedOrder) -> OrderView:
    """Place the order, or answer the one already placed with this reference (same request), or
    refuse (another request): see the module docstring. Returns the order without its cards."""
    reference = req.reference.strip()
    for attempt in range(2):
        async with rt.uow() as uow:
            existing = await _by_reference(uow, account_id, reference)
            if existing is not None:
                return await _replay(uow, existing, req, reference)
            native = await _native(uow, req)
            try:
                placed = await placing.place_order(uow, account_id=account_id, req=native, show_codes=False)
            except Conflict as exc:
                if exc.param != "reference" or attempt:
                    raise
                continue  # a concurrent request took the reference and committed: compare with it
            await uow.commit()
            return placed
    raise AssertionError("unreachable")  # pragma: no cover


async def _replay(uow: UnitOfWork, existing: Any, req: ReferencedOrder, reference: str) -> OrderView:
    """The order already placed with this reference, if `req` is the request that placed it."""
    try:
        same = await _same(uow, existing, await _native(uow, req))
    except ValidationFailed:
        same = False  # the order placed was valid, so this request is another one
    if not same:
        raise Conflict(f"the reference {reference!r} was used for another order", param="reference", order=existing.id)
    return await order_views.summary(uow, account_id=existing.account_id, order_id=existing.id)


async def instructions_of(uow: UnitOfWork, order: OrderView) -> dict[str, str]:
    """Each of the order's products' redemption instructions, by product id."""
    out: dict[str, str] = {}
    for item in order.items or []:
        if item.product not in out:
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
        row = await _by_reference(uow, account_id, reference)
        if row is None:
            raise NotFound("no such order", param="order")
        order_id = row.id
    order = await order_views.reveal_order(uow, account_id=account_id, order_id=order_id)
    return Shown(order, await instructions_of(uow, order))


async def reveal(rt: Runtime, *, account_id: str, order_id: str | None, reference: str | None) -> Shown:
    """`show` in a unit of work of its own, committed: reading codes writes (each showing is
    recorded), so a surface that opens no transaction calls this."""
    return await rt.transact(lambda uow: show(uow, account_id=account_id, order_id=order_id, reference=reference))
