"""The catalog's pure rules: denominations, the price of a card, required recipient fields and
the expiry policy. No I/O: the services load a product and ask these functions.

Prices: a product sells a card of face value F for `F - discount + fee`, where the discount is
`F * discount_bps / 10000` rounded half-even to the minor unit (banker's rounding, so a run of
half-unit discounts does not drift one way). Face value is what the card holds; price is what the
buyer's funding account pays.
"""

from __future__ import annotations

import calendar
import enum
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.expiry_policy import ExpiryPolicy

# Lowercase letters and digits, dashes and underscores inside (WizzGift's ids look like
# `product_123456`, Giftwell's like `acme-usd`).
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,78}[a-z0-9]$")
# A design's id is the vendor's (Wpay's `designId`, like WWQ912SWAP01): case-sensitive.
DESIGN_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_DESIGNS = 50
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
MAX_BPS = 10_000
MAX_FIELD_VALUE = 500


class FieldType(enum.StrEnum):
    INPUT = "input"
    SELECT = "select"


@dataclass(frozen=True, slots=True)
class Denominations:
    """Either a fixed list of face values, or a range `min..max` in steps of `step` from `min`."""

    values: tuple[int, ...] = ()
    min: int | None = None
    max: int | None = None
    step: int | None = None

    def __post_init__(self) -> None:
        p = "denominations"
        if self.values:
            if self.min is not None or self.max is not None or self.step is not None:
                raise ValidationFailed("denominations are either values or a min/max range, not both", param=p)
            if any(_not_positive(v) for v in self.values):
                raise ValidationFailed("denomination values must be positive integers", param=f"{p}.values")
            return
        if self.min is None or self.max is None:
            raise ValidationFailed("denominations need values, or min and max", param=p)
        if _not_positive(self.min) or _not_positive(self.max) or self.min > self.max:
            raise ValidationFailed("denominations need 0 < min <= max", param=f"{p}.min")
        if self.step is not None and _not_positive(self.step):
            raise ValidationFailed("denominations.step must be a positive integer", param=f"{p}.step")

    def check(self, amount: int, *, param: str) -> int:
        """`amount` if the product sells a card of that face value, else a validation error."""
        if _not_positive(amount):
            raise ValidationFailed("amount must be a positive integer of minor units", param=param)
        if self.values:
            if amount not in self.values:
                allowed = ", ".join(map(str, self.values))
                raise ValidationFailed(f"amount must be one of {allowed}", param=param, rule="values")
            return amount
        assert self.min is not None
        assert self.max is not None
        if not self.min <= amount <= self.max:
            raise ValidationFailed(
                f"amount must be between {self.min} and {self.max}",
                param=param,
                rule="range",
                min=self.min,
                max=self.max,
            )
        if self.step and (amount - self.min) % self.step:
            raise ValidationFailed(
                f"amount must be {self.min} plus a multiple of {self.step}", param=param, rule="step", step=self.step
            )
        return amount

    def as_dict(self) -> dict[str, Any]:
        if self.values:
            return {"values": list(self.values)}
        return {"min": self.min, "max": self.max, "step": self.step}


def _not_positive(v: object) -> bool:
    return isinstance(v, bool) or not isinstance(v, int) or v <= 0


@dataclass(frozen=True, slots=True)
class PriceRule:
    """Discount in basis points of the face value, and a flat fee in minor units, per card."""

    discount_bps: int = 0
    fee: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.discount_bps, bool) or not isinstance(self.discount_bps, int):
            raise ValidationFailed("price.discount_bps must be an integer", param="price.discount_bps")
        if not 0 <= self.discount_bps <= MAX_BPS:
            raise ValidationFailed(f"price.discount_bps must be 0 to {MAX_BPS}", param="price.discount_bps")
        if isinstance(self.fee, bool) or not isinstance(self.fee, int) or self.fee < 0:
            raise ValidationFailed("price.fee must be a non-negative integer", param="price.fee")

    def price(self, face_value: int) -> int:
        """What one card of `face_value` costs the buyer (see the module docstring for rounding)."""
        # face * bps / 10000 is exact in Decimal (a division by a power of ten), so the only
        # rounding is the one quantize does.
        discount = (Decimal(face_value * self.discount_bps) / MAX_BPS).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return face_value - int(discount) + self.fee


@dataclass(frozen=True, slots=True)
class RequiredField:
    """Information the buyer must give for each card (a phone to top up, a name to print)."""

    id: str
    name: str
    type: FieldType = FieldType.INPUT
    description: str = ""
    required: bool = True
    options: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type.value,
            "description": self.description,
            "required": self.required,
            "options": list(self.options),
        }


def check_fields(spec: tuple[RequiredField, ...], given: dict[str, Any] | None, *, param: str) -> dict[str, str]:
    """The item's field values, checked against the product's fields: every required one present
    and non-empty, select values among the options, no unknown ids, strings of <= 500 chars."""
    given = dict(given or {})
    known = {f.id: f for f in spec}
    for key in given:
        if key not in known:
            raise ValidationFailed(f"unknown field {key!r} for this product", param=f"{param}.{key}")
    out: dict[str, str] = {}
    for f in spec:
        value = given.get(f.id)
        p = f"{param}.{f.id}"
        if value is None or (isinstance(value, str) and not value.strip()):
            if f.required:
                raise ValidationFailed(f"field {f.name!r} ({f.id}) is required", param=p, rule="required")
            continue
        if not isinstance(value, str):
            raise ValidationFailed(f"field {f.name!r} must be a string", param=p, rule="type")
        if len(value) > MAX_FIELD_VALUE:
            raise ValidationFailed(f"field {f.name!r} is longer than {MAX_FIELD_VALUE}", param=p, rule="length")
        if f.type is FieldType.SELECT and value not in f.options:
            raise ValidationFailed(f"field {f.name!r} must be one of {', '.join(f.options)}", param=p, rule="options")
        out[f.id] = value
    return out


@dataclass(frozen=True, slots=True)
class Design:
    """A look a product's cards may be ordered in: shown as the card's picture in the email and
    on the reward page."""

    id: str
    name: str
    image_url: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "image_url": self.image_url}


def add_months(at: datetime, months: int) -> datetime:
    """`at` plus whole calendar months, the day clamped to the target month (Jan 31 + 1 = Feb 28/29)."""
    y, m = divmod(at.month - 1 + months, 12)
    year, month = at.year + y, m + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


@dataclass(frozen=True, slots=True)
class Product:
    """A product the catalog sells. `issuer_account_id` None: the operator's own account issues it."""

    id: str
    name: str
    brand: str
    currency: str
    denominations: Denominations
    price: PriceRule
    countries: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    image_url: str | None = None
    description: str = ""
    required_fields: tuple[RequiredField, ...] = ()
    expiry_months: int | None = None
    code_format: dict[str, Any] | None = None
    redemption_instructions: str = ""
    # Terms shown to buyers beside the product (WizzGift's `disclosure`).
    disclosure: str = ""
    # Whether email and SMS carry the code (and PIN) itself; by default they carry only the reward link.
    code_in_message: bool = False
    supplier: str = "house"
    # The upstream's own product id, for a product an upstream supplier makes.
    supplier_product: str | None = None
    issuer_account_id: str | None = None
    active: bool = True
    designs: tuple[Design, ...] = ()
    expiry_policy: ExpiryPolicy | None = None
    created_at: datetime | None = field(default=None, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)

    @property
    def upstream(self) -> bool:
        """Made by an upstream supplier: its cards live in the upstream's ledger, not ours."""
        return self.supplier_product is not None

    def check_delivery(self, channel: str, *, param: str) -> None:
        """An upstream's cards are not sent by Giftwell (the upstream holds them; the buyer
        delivers the codes or links it gets back)."""
        if self.upstream and channel != "none":
            raise ValidationFailed(
                f"product {self.id!r} is bought from a supplier: Giftwell does not send its cards; leave delivery out",
                param=param,
                rule="delivery",
            )

    def check_orderable(self, *, country: str | None, param: str) -> None:
        if not self.active:
            raise ValidationFailed(f"product {self.id!r} is not available", param=param, rule="inactive")
        if country is not None and self.countries and country not in self.countries:
            raise ValidationFailed(f"product {self.id!r} is not sold in {country}", param=param, rule="country")

    def design(self, design_id: str, *, param: str) -> Design:
        """The product's design of this id, or a validation error (`rule="unknown_design"`)."""
        for d in self.designs:
            if d.id == design_id:
                return d
        raise ValidationFailed(
            f"product {self.id!r} has no design {design_id!r}", param=param, rule="unknown_design", design=design_id
        )
