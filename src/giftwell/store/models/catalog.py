"""The catalog: products the operator sells to business accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base, JsonType


class Product(Base):
    """A product, keyed by its slug. Lists and nested shapes (countries, denominations, required
    fields, code format) are JSON: they are read whole with the product and never queried apart,
    except `countries`/`categories`, which the list filters match in Python (the catalog is small)."""

    __tablename__ = "products"
    __table_args__ = (Index("ix_products_currency", "currency", "active"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    brand: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2000))
    currency: Mapped[str] = mapped_column(String(3))
    countries: Mapped[list[str]] = mapped_column(JsonType)
    categories: Mapped[list[str]] = mapped_column(JsonType)
    denominations: Mapped[dict[str, Any]]
    discount_bps: Mapped[int] = mapped_column(Integer)
    fee: Mapped[int]
    required_fields: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    expiry_months: Mapped[int | None] = mapped_column(Integer)
    code_format: Mapped[dict[str, Any] | None]
    redemption_instructions: Mapped[str] = mapped_column(Text)
    # Terms the buyer sees beside the product (WizzGift's `disclosure`).
    disclosure: Mapped[str] = mapped_column(Text, server_default="")
    # Email and SMS carry the code itself (default: only the reward link).
    code_in_message: Mapped[bool] = mapped_column(server_default=false())
    supplier: Mapped[str] = mapped_column(String(40))
    # The upstream's product id, for a product an upstream supplier makes (`suppliers`).
    supplier_product: Mapped[str | None] = mapped_column(String(200))
    # NULL: the operator's own account issues the cards.
    issuer_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    active: Mapped[bool] = mapped_column(server_default=true())
    # [{id, name, image_url}]: the looks its cards may be ordered in (an order item's `design_id`).
    designs: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, server_default="[]")
    # The product's expiry policy (domain.expiry_policy): both set, or neither.
    expiry_min_days: Mapped[int | None] = mapped_column(Integer)
    expiry_rule: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
