"""The catalog: create, change, import and browse products.

A product travels as one JSON shape (the API's, and the import file's: a list of them), checked
here by `check_product` so that the API and the CLI refuse the same things with the same params.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from giftwell.domain import codes
from giftwell.domain.catalog import (
    COUNTRY_RE,
    DESIGN_ID_RE,
    MAX_DESIGNS,
    SLUG_RE,
    Denominations,
    Design,
    FieldType,
    PriceRule,
    Product,
    RequiredField,
)
from giftwell.domain.errors import Conflict, NotFound, ValidationFailed
from giftwell.domain.expiry_policy import check_policy
from giftwell.services import events
from giftwell.services.catalog import suppliers
from giftwell.services.currencies import currency as check_currency
from giftwell.store.models import Account
from giftwell.store.models import Product as ProductRow
from giftwell.store.uow import UnitOfWork

FIELDS = frozenset(
    {
        "id",
        "name",
        "brand",
        "currency",
        "countries",
        "categories",
        "image_url",
        "description",
        "denominations",
        "price",
        "required_fields",
        "expiry_months",
        "code_format",
        "redemption_instructions",
        "code_in_message",
        "supplier",
        "issuer",
        "active",
        "designs",
        "expiry_policy",
    }
)


def _str(data: dict[str, Any], key: str, *, required: bool = False, max_len: int = 200, default: str = "") -> str:
    v = data.get(key)
    if v is None:
        if required:
            raise ValidationFailed(f"{key} is required", param=key)
        return default
    if not isinstance(v, str) or len(v) > max_len:
        raise ValidationFailed(f"{key} must be a string of at most {max_len} characters", param=key)
    if required and not v.strip():
        raise ValidationFailed(f"{key} is required", param=key)
    return v


def _str_list(data: dict[str, Any], key: str, *, pattern: Any = None) -> tuple[str, ...]:
    v = data.get(key) or []
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v) or len(v) > 300:
        raise ValidationFailed(f"{key} must be a list of strings", param=key)
    if pattern is not None:
        for i, x in enumerate(v):
            if not pattern.match(x):
                raise ValidationFailed(f"{key}[{i}] must be an ISO 3166 alpha-2 code like US", param=f"{key}[{i}]")
    return tuple(dict.fromkeys(v))


def _fields(raw: Any) -> tuple[RequiredField, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValidationFailed("required_fields must be a list", param="required_fields")
    out: list[RequiredField] = []
    for i, f in enumerate(raw):
        p = f"required_fields[{i}]"
        if not isinstance(f, dict) or not isinstance(f.get("id"), str) or not f["id"]:
            raise ValidationFailed(f"{p}.id is required", param=f"{p}.id")
        try:
            kind = FieldType(f.get("type", "input"))
        except ValueError:
            raise ValidationFailed(f"{p}.type must be input or select", param=f"{p}.type") from None
        options = f.get("options") or []
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise ValidationFailed(f"{p}.options must be a list of strings", param=f"{p}.options")
        if kind is FieldType.SELECT and not options:
            raise ValidationFailed(f"{p}: a select field needs options", param=f"{p}.options")
        required = f.get("required", True)
        if not isinstance(required, bool):
            raise ValidationFailed(f"{p}.required must be true or false", param=f"{p}.required")
        name, desc = f.get("name") or f["id"], f.get("description") or ""
        if not isinstance(name, str) or not isinstance(desc, str):
            raise ValidationFailed(f"{p}.name and description must be strings", param=p)
        out.append(RequiredField(f["id"], name, kind, desc, required, tuple(options)))
    if len({f.id for f in out}) != len(out):
        raise ValidationFailed("required_fields ids must be unique", param="required_fields")
    return tuple(out)


def _image_url(value: Any, param: str) -> str:
    if not isinstance(value, str) or len(value) > 2000 or not value.startswith(("https://", "http://")):
        raise ValidationFailed(f"{param} must be an http(s) URL of at most 2000 characters", param=param)
    return value


def _designs(raw: Any) -> tuple[Design, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_DESIGNS:
        raise ValidationFailed(f"designs must be a list of at most {MAX_DESIGNS}", param="designs")
    out: list[Design] = []
    for i, d in enumerate(raw):
        p = f"designs[{i}]"
        if not isinstance(d, dict) or set(d) - {"id", "name", "image_url"}:
            raise ValidationFailed(f"{p} must be {{id, name, image_url}}", param=p)
        design_id, name = d.get("id"), d.get("name")
        if not isinstance(design_id, str) or not DESIGN_ID_RE.match(design_id):
            raise ValidationFailed(
                f"{p}.id must be 1 to 64 letters, digits, dots, dashes or underscores", param=f"{p}.id"
            )
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValidationFailed(f"{p}.name must be 1 to 200 characters", param=f"{p}.name")
        out.append(Design(design_id, name, _image_url(d.get("image_url"), f"{p}.image_url")))
    if len({d.id for d in out}) != len(out):
        raise ValidationFailed("designs ids must be unique within a product", param="designs")
    return tuple(out)


def _denominations(raw: Any) -> Denominations:
    if not isinstance(raw, dict):
        raise ValidationFailed("denominations must be {values: [...]} or {min, max, step}", param="denominations")
    unknown = set(raw) - {"values", "min", "max", "step"}
    if unknown:
        raise ValidationFailed(f"unknown denominations key(s): {', '.join(sorted(unknown))}", param="denominations")
    values = raw.get("values")
    if values is not None and not isinstance(values, list):
        raise ValidationFailed("denominations.values must be a list", param="denominations.values")
    return Denominations(tuple(values or ()), raw.get("min"), raw.get("max"), raw.get("step"))


def check_product(data: dict[str, Any]) -> Product:
    """A product from its JSON shape, or the first problem as a `ValidationFailed` naming the field."""
    if not isinstance(data, dict):
        raise ValidationFailed("a product must be a JSON object", param=None)
    unknown = set(data) - FIELDS
    if unknown:
        raise ValidationFailed(f"unknown product field(s): {', '.join(sorted(unknown))}", param=sorted(unknown)[0])
    pid = _str(data, "id", required=True, max_len=80)
    if not SLUG_RE.match(pid):
        raise ValidationFailed("id must be a slug: lowercase letters, digits and dashes", param="id")
    price = data.get("price") or {}
    if not isinstance(price, dict) or set(price) - {"discount_bps", "fee"}:
        raise ValidationFailed("price must be {discount_bps, fee}", param="price")
    expiry = data.get("expiry_months")
    if expiry is not None and (isinstance(expiry, bool) or not isinstance(expiry, int) or not 1 <= expiry <= 600):
        raise ValidationFailed("expiry_months must be 1 to 600, or null for no expiry", param="expiry_months")
    fmt = data.get("code_format")
    if fmt is not None:
        if not isinstance(fmt, dict):
            raise ValidationFailed("code_format must be an object", param="code_format")
        try:
            codes.CodeFormat(**fmt)
        except TypeError:
            raise ValidationFailed("code_format has unknown keys", param="code_format") from None
    active = data.get("active", True)
    if not isinstance(active, bool):
        raise ValidationFailed("active must be true or false", param="active")
    code_in_message = data.get("code_in_message", False)
    if not isinstance(code_in_message, bool):
        raise ValidationFailed("code_in_message must be true or false", param="code_in_message")
    issuer = data.get("issuer")
    if issuer is not None and not isinstance(issuer, str):
        raise ValidationFailed("issuer must be an account id", param="issuer")
    image = data.get("image_url")
    if image is not None:
        image = _image_url(image, "image_url")
    return Product(
        id=pid,
        name=_str(data, "name", required=True),
        brand=_str(data, "brand", default=_str(data, "name")),
        currency=check_currency(data.get("currency")).code,
        denominations=_denominations(data.get("denominations")),
        price=PriceRule(price.get("discount_bps", 0), price.get("fee", 0)),
        countries=_str_list(data, "countries", pattern=COUNTRY_RE),
        categories=_str_list(data, "categories"),
        image_url=image,
        description=_str(data, "description", max_len=5000),
        required_fields=_fields(data.get("required_fields")),
        expiry_months=expiry,
        code_format=fmt,
        redemption_instructions=_str(data, "redemption_instructions", max_len=5000),
        code_in_message=code_in_message,
        supplier=_str(data, "supplier", default="house", max_len=40) or "house",
        issuer_account_id=issuer,
        active=active,
        designs=_designs(data.get("designs")),
        expiry_policy=check_policy(data.get("expiry_policy")),
    )


def as_dict(p: Product) -> dict[str, Any]:
    """The product's JSON shape (what `check_product` reads back)."""
    return {
        "id": p.id,
        "name": p.name,
        "brand": p.brand,
        "currency": p.currency,
        "countries": list(p.countries),
        "categories": list(p.categories),
        "image_url": p.image_url,
        "description": p.description,
        "denominations": p.denominations.as_dict(),
        "price": {"discount_bps": p.price.discount_bps, "fee": p.price.fee},
        "required_fields": [f.as_dict() for f in p.required_fields],
        "expiry_months": p.expiry_months,
        "code_format": p.code_format,
        "redemption_instructions": p.redemption_instructions,
        "code_in_message": p.code_in_message,
        "supplier": p.supplier,
        "issuer": p.issuer_account_id,
        "active": p.active,
        "designs": [d.as_dict() for d in p.designs],
        "expiry_policy": p.expiry_policy.as_dict() if p.expiry_policy else None,
    }


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
        "code_in_message": bool(r.code_in_message),
        "supplier": r.supplier,
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
    suppliers.get(p.supplier, param="supplier")
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
    if exists:
        await uow.conn.execute(
            sa.update(ProductRow).where(ProductRow.id == p.id).values(**_values(p), updated_at=uow.now)
        )
    else:
        await uow.conn.execute(sa.insert(ProductRow).values(**_values(p), created_at=uow.now, updated_at=uow.now))
    saved = await get(uow, p.id)
    await _event(uow, "product.updated" if exists else "product.created", saved)
    return Saved(saved, not exists)


async def _event(uow: UnitOfWork, type_: str, p: Product) -> None:
    from giftwell.services.access import accounts

    op = await accounts.operator_account(uow)
    await events.record(uow, account_id=op.id, type=type_, subject_id=None, data={"product": p.id})


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
