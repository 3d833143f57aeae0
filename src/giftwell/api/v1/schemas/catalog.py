"""Products of the catalog as the native API takes and shows them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt

from giftwell.api.v1.schemas.account import ExpiryPolicyIn
from giftwell.api.v1.schemas.common import CodeFormatIn, In, Str200
from giftwell.domain.catalog import Product
from giftwell.services.catalog import product_data


class DenominationsIn(In):
    values: list[StrictInt] | None = None
    min: StrictInt | None = None
    max: StrictInt | None = None
    step: StrictInt | None = None


class PriceIn(In):
    discount_bps: StrictInt = Field(default=0, description="Discount in basis points of the face value.")
    fee: StrictInt = Field(default=0, description="Flat fee per card, in minor units.")


class RequiredFieldIn(In):
    id: Annotated[str, Field(min_length=1, max_length=60)]
    name: Str200
    type: Literal["input", "select"] = "input"
    description: Annotated[str, Field(max_length=1000)] = ""
    required: StrictBool = True
    options: list[Str200] = Field(default_factory=list)


class DesignIn(In):
    id: Annotated[str, Field(min_length=1, max_length=64, examples=["WWQ912SWAP01"])]
    name: Str200
    image_url: Annotated[str, Field(max_length=2000)]


class ProductIn(In):
    """A product in the catalog's JSON shape (the same as the import file's entries)."""

    id: Annotated[str, Field(max_length=80, examples=["acme-usd"])]
    name: Str200
    brand: Str200 | None = None
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    countries: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    image_url: Annotated[str, Field(max_length=2000)] | None = None
    description: Annotated[str, Field(max_length=5000)] = ""
    denominations: DenominationsIn
    price: PriceIn = PriceIn()
    required_fields: list[RequiredFieldIn] = Field(default_factory=list)
    expiry_months: StrictInt | None = None
    code_format: CodeFormatIn | None = None
    redemption_instructions: Annotated[str, Field(max_length=5000)] = ""
    disclosure: Annotated[str, Field(max_length=5000, description="Terms shown to buyers beside the product.")] = ""
    code_in_message: StrictBool = Field(
        default=False,
        description="Email and SMS deliveries carry the code (and PIN) itself; by default only the reward link.",
    )
    supplier: Annotated[str, Field(max_length=40)] = Field(
        default="house", description="`house`, or the name of an upstream supplier (`giftwell suppliers add`)."
    )
    supplier_product: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="The upstream supplier's own product id (with an upstream supplier only)."
    )
    issuer: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="The issuing account's id; absent: the operator's own account."
    )
    active: StrictBool = True
    designs: Annotated[list[DesignIn], Field(max_length=50)] = Field(
        default_factory=list,
        description="Looks an order item may pick by `design`: shown as the card's picture in messages and pages.",
    )
    expiry_policy: ExpiryPolicyIn | None = Field(
        default=None, description="The shortest lifetime this product's cards may be issued with (checked at issue)."
    )

    def data(self) -> dict[str, Any]:
        d = self.model_dump()
        d["denominations"] = self.denominations.model_dump(exclude_none=True)
        return d


class ProductPatch(In):
    """Any of a product's fields; the others keep their values."""

    name: Str200 | None = None
    brand: Str200 | None = None
    countries: list[str] | None = None
    categories: list[str] | None = None
    image_url: Annotated[str, Field(max_length=2000)] | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    denominations: DenominationsIn | None = None
    price: PriceIn | None = None
    required_fields: list[RequiredFieldIn] | None = None
    expiry_months: StrictInt | None = None
    code_format: CodeFormatIn | None = None
    redemption_instructions: Annotated[str, Field(max_length=5000)] | None = None
    disclosure: Annotated[str, Field(max_length=5000)] | None = None
    code_in_message: StrictBool | None = None
    supplier: Annotated[str, Field(max_length=40)] | None = None
    supplier_product: Annotated[str, Field(max_length=200)] | None = None
    issuer: Annotated[str, Field(max_length=40)] | None = None
    active: StrictBool | None = None
    designs: Annotated[list[DesignIn], Field(max_length=50)] | None = None
    expiry_policy: ExpiryPolicyIn | None = None

    def data(self) -> dict[str, Any]:
        d = self.model_dump(exclude_unset=True)
        if self.denominations is not None:
            d["denominations"] = self.denominations.model_dump(exclude_none=True)
        return d


class ProductOut(BaseModel):
    id: str
    name: str
    brand: str
    currency: str
    countries: list[str]
    categories: list[str]
    image_url: str | None
    description: str
    denominations: dict[str, Any]
    price: dict[str, int]
    required_fields: list[dict[str, Any]]
    expiry_months: int | None
    code_format: dict[str, Any] | None
    redemption_instructions: str
    disclosure: str
    code_in_message: bool
    supplier: str
    supplier_product: str | None
    issuer: str | None
    active: bool
    designs: list[dict[str, str]]
    expiry_policy: dict[str, Any] | None

    @classmethod
    def of(cls, p: Product) -> ProductOut:
        return cls(**product_data.as_dict(p))
