"""The catalog: create, change, import and browse products.

A product travels as one JSON shape (the API's, and the import file's: a list of them), checked
here by `check_product` so that the API and the CLI refuse the same things with the same params.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from giftwell.domain.catalog import (
    Product,
)
from giftwell.domain.errors import Conflict, NotFound, ValidationFailed
from giftwell.services import audit, events
from giftwell.services.catalog import suppliers
from giftwell.services.catalog.product_data import as_dict, check_product
from giftwell.services.runtime import Runtime
from giftwell.store.models import Account
from giftwell.store.models import Product as ProductRow
from giftwell.store.uow import UnitOfWork


def product_from_row(r: Any) -> Product:
    data = {
        "id": r.id,
        "name": r.name,
        "brand": r.brand,
        "currency": r.currency,
        "countries": r.countries,
        "categories": r.categories,
        "image_url": r.image_url,
        "description": r.description,
        "denominations": r.denominations,
        "price": {"discount_bps": r.discount_bps, "fee": int(r.fee)},
        "required_fields": r.required_fields,
        "expiry_months": r.expiry_months,
        "code_format": r.code_format,
        "redemption_instructions": r.redemption_instructions,
        "disclosure": r.disclosure,
        "code_in_message": bool(r.code_in_message),
        "supplier": r.supplier,
        "supplier_product": r.supplier_product,
        "issuer": r.issuer_account_id,
        "active": bool(r.active),
        "designs": r.designs,
        "expiry_policy": {"min_days": r.expiry_min_days, "rule": r.expiry_rule} if r.expiry_min_days else None,
    }
    p = check_product(data)
    return Product(
        **{**{f: getattr(p, f) for f in p.__slots__}, "created_at": r.created_at, "updated_at": r.updated_at}
    )


def _values(p: Product) -> dict[str, Any]:
    d = as_dict(p)
    return {
        **{k: v for k, v in d.items() if k not in ("price", "issuer", "expiry_policy")},
        "expiry_min_days": p.expiry_policy.min_days if p.expiry_policy else None,
        "expiry_rule": p.expiry_policy.rule if p.expiry_policy else None,
        "discount_bps": p.price.discount_bps,
        "fee": p.price.fee,
        "issuer_account_id": p.issuer_account_id,
    }


async def _check_refs(uow: UnitOfWork, p: Product) -> None:
    upstream = await suppliers.check(uow, p.supplier, param="supplier")
    if upstream and p.supplier_product is None:
        raise ValidationFailed(
            f"{p.supplier!r} is an upstream supplier: name its product in supplier_product", param="supplier_product"
        )
    if not upstream and p.supplier_product is not None:
        raise ValidationFailed("supplier_product names an upstream supplier's product", param="supplier_product")
    if p.issuer_account_id is not None:
        found = await uow.conn.execute(sa.select(Account.id).where(Account.id == p.issuer_account_id))
        if found.first() is None:
            raise ValidationFailed("issuer is not an account", param="issuer")


@dataclass(frozen=True, slots=True)
class Saved:
    product: Product
    created: bool


async def save(uow: UnitOfWork, data: dict[str, Any], *, create_only: bool = False) -> Saved:
    """Insert or replace a product (an upsert by id). `create_only`: a product with this id is a
    409 `conflict`. Records `product.created` or `product.updated` on the operator's account."""
    p = check_product(data)
    await _check_refs(uow, p)
    exists = (
        await uow.conn.execute(sa.select(ProductRow.id).where(ProductRow.id == p.id).with_for_update())
    ).first() is not None
    if exists and create_only:
        raise Conflict(f"a product with id {p.id!r} already exists", param="id")
    before = as_dict(await get(uow, p.id)) if exists else None
    if exists:
        await uow.conn.execute(
            sa.update(ProductRow).where(ProductRow.id == p.id).values(**_values(p), updated_at=uow.now)
        )
    else:
        await uow.conn.execute(sa.insert(ProductRow).values(**_values(p), created_at=uow.now, updated_at=uow.now))
    saved = await get(uow, p.id)
    after = as_dict(saved)
    changes = after if before is None else {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    await _event(uow, "product.updated" if exists else "product.created", saved, changes)
    return Saved(saved, not exists)


async def _event(uow: UnitOfWork, type_: str, p: Product, changes: dict[str, Any]) -> None:
    from giftwell.services.access import accounts

    op = await accounts.operator_account(uow)
    await events.record(uow, account_id=op.id, type=type_, subject_id=None, data={"product": p.id})
    if changes:  # an import that changes nothing is no administrative action
        await audit.record(uow, type_, target=("product", p.id), account_id=op.id, changes=changes)


async def update(uow: UnitOfWork, product_id: str, patch: dict[str, Any]) -> Product:
    """Change some fields of a product (the rest keep their values)."""
    if "id" in patch and patch["id"] != product_id:
        raise ValidationFailed("a product's id cannot change", param="id")
    current = await get(uow, product_id)
    return (await save(uow, {**as_dict(current), **patch})).product


async def import_products(uow: UnitOfWork, items: Sequence[Any]) -> list[Saved]:
    """Upsert a list of products in one transaction: all of them, or none (the error names the
    index of the first bad one)."""
    if not isinstance(items, list):
        raise ValidationFailed("an import file holds a JSON list of products", param=None)
    out: list[Saved] = []
    for i, data in enumerate(items):
        try:
            out.append(await save(uow, data))
        except ValidationFailed as exc:
            exc.param = f"[{i}].{exc.param}" if exc.param else f"[{i}]"
            exc.message = f"product {i}: {exc.message}"
            raise
    return out


async def get(uow: UnitOfWork, product_id: str, *, active_only: bool = False) -> Product:
    row = (await uow.conn.execute(sa.select(ProductRow).where(ProductRow.id == product_id))).first()
    if row is None or (active_only and not row.active):
        raise NotFound("no such product", param="product")
    return product_from_row(row)


async def list_products(
    uow: UnitOfWork,
    *,
    country: str | None = None,
    currency: str | None = None,
    category: str | None = None,
    active_only: bool = True,
) -> list[Product]:
    """Products by id, filtered. Countries and categories are JSON lists, matched here rather
    than in SQL (the catalog is hundreds of rows, not millions, and both databases agree)."""
    q = sa.select(ProductRow).order_by(ProductRow.id)
    if currency:
        q = q.where(ProductRow.currency == currency.upper())
    if active_only:
        q = q.where(ProductRow.active.is_(True))
    out = []
    for r in (await uow.conn.execute(q)).all():
        if country and r.countries and country.upper() not in r.countries:
            continue
        if category and category not in (r.categories or []):
            continue
        out.append(product_from_row(r))
    return out


async def browse(rt: Runtime) -> list[Product]:
    """The active catalog, read in a unit of work of its own (for surfaces that open none)."""
    async with rt.reader() as uow:
        return await list_products(uow)
