"""Pull an upstream supplier's catalog (`giftwell suppliers sync NAME`).

Each of our products made by the supplier (`supplier` = its name, `supplier_product` = the
upstream's id) takes from the upstream what the upstream decides: denominations (from its
`skus`: a range, or one fixed value per sku), required fields (their ids are what the upstream
order must carry), countries, categories, description, disclosure, redemption instructions and image. What is ours stays
ours: the id, name, brand, price rule, expiry, and whether it is offered at all, except that a
product the upstream no longer lists, or lists in another currency or with amounts our currency
cannot hold, is made inactive (and reported). The upstream's whole list comes back too, for the
operator choosing what to import next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.money import to_minor
from giftwell.domain.suppliers import UpstreamProduct
from giftwell.services.catalog import products
from giftwell.services.catalog.upstream import config, tokens
from giftwell.services.currencies import currency
from giftwell.services.runtime import Runtime
from giftwell.store.models import Product as ProductRow
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class SyncReport:
    supplier: str
    upstream: list[dict[str, Any]]
    updated: list[str] = field(default_factory=list)
    deactivated: dict[str, str] = field(default_factory=dict)  # our product id -> why

    def as_dict(self) -> dict[str, Any]:
        return {
            "supplier": self.supplier,
            "upstream": self.upstream,
            "updated": self.updated,
            "deactivated": self.deactivated,
        }


def _minor(value: object, code: str) -> int:
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        raise ValidationFailed("an upstream amount is not a number", param="denominations")
    return to_minor(Decimal(value), currency(code), param="denominations")


def _denominations(up: UpstreamProduct, code: str) -> dict[str, Any]:
    if not up.skus:
        raise ValidationFailed("the upstream product has no skus", param="denominations")
    if len(up.skus) > 1 or up.skus[0].min == up.skus[0].max:
        return {"values": sorted({_minor(s.min, code) for s in up.skus})}
    sku = up.skus[0]
    out = {"min": _minor(sku.min, code), "max": _minor(sku.max, code)}
    return {**out, "step": _minor(sku.change_step, code)} if sku.change_step else out


def patch_from(up: UpstreamProduct, ours: Any) -> dict[str, Any]:
    """What the upstream decides about our product (see the module docstring)."""
    if up.currency != ours.currency:
        raise ValidationFailed(f"the upstream sells it in {up.currency or 'no currency'}, not {ours.currency}")
    image = up.image if up.image and up.image.startswith(("https://", "http://")) else None
    return {
        "denominations": _denominations(up, ours.currency),
        "required_fields": [
            {
                "id": f.id,
                "name": f.name,
                "type": f.type,
                "description": f.description,
                "required": f.required,
                "options": list(f.options),
            }
            for f in up.fields
        ],
        "countries": [c for c in up.countries if len(c) == 2 and c.isupper()],
        "categories": list(up.categories),
        "description": up.description[:5000],
        "disclosure": up.disclosure[:5000],
        "redemption_instructions": up.instruction[:5000],
        "image_url": image,
        "active": True,
    }


async def _apply(uow: UnitOfWork, name: str, listed: list[UpstreamProduct]) -> SyncReport:
    by_id = {p.id: p for p in listed}
    report = SyncReport(name, [{"id": p.id, "name": p.name, "currency": p.currency} for p in listed])
    rows = (
        await uow.conn.execute(sa.select(ProductRow).where(ProductRow.supplier == name).order_by(ProductRow.id))
    ).all()
    for row in rows:
        up = by_id.get(row.supplier_product or "")
        try:
            if up is None:
                raise ValidationFailed(f"the upstream no longer lists {row.supplier_product!r}")
            await products.update(uow, row.id, patch_from(up, row))
            report.updated.append(row.id)
        except ValidationFailed as exc:
            await products.update(uow, row.id, {"active": False})
            report.deactivated[row.id] = exc.message
    return report


async def sync(rt: Runtime, name: str) -> SyncReport:
    """Fetch the supplier's catalog (outside any transaction), then update our products made by
    it in one transaction."""
    async with rt.reader() as uow:
        supplier = await config.by_name(uow, name)
    listed = await tokens.call(rt, supplier.id, lambda api, token: api.products(token))
    return await rt.transact(lambda uow: _apply(uow, supplier.name, listed))
