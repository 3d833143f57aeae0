"""A product from its JSON shape and back: the one reader of the catalog's import file, the API's
body and a PATCH (every field checked, errors naming the field), and the writer of that shape."""

from __future__ import annotations

from typing import Any

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
from giftwell.domain.errors import ValidationFailed
from giftwell.domain.expiry_policy import check_policy
from giftwell.services.currencies import currency as check_currency

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
        "disclosure",
        "code_in_message",
        "supplier",
        "supplier_product",
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
        raise ValidationFailed(
            "id must be a slug: lowercase letters and digits, dashes and underscores inside", param="id"
        )
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
        disclosure=_str(data, "disclosure", max_len=5000),
        code_in_message=code_in_message,
        supplier=_str(data, "supplier", default="house", max_len=40) or "house",
        supplier_product=_str(data, "supplier_product", max_len=200) or None,
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
        "disclosure": p.disclosure,
        "code_in_message": p.code_in_message,
        "supplier": p.supplier,
        "supplier_product": p.supplier_product,
        "issuer": p.issuer_account_id,
        "active": p.active,
        "designs": [d.as_dict() for d in p.designs],
        "expiry_policy": p.expiry_policy.as_dict() if p.expiry_policy else None,
    }
