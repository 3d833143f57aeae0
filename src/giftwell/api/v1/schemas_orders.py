"""Request and response shapes of the catalog, account and order routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, StrictBool, StrictInt

from giftwell.api.v1.schemas import In, TransferOut
from giftwell.domain.catalog import Product
from giftwell.domain.orders import Mode
from giftwell.services.access.accounts import AccountInfo
from giftwell.services.catalog import products
from giftwell.services.funding.balances import Balance
from giftwell.services.orders.placing import ItemRequest, OrderRequest
from giftwell.services.orders.views import CardView, ItemView, OrderView

Str200 = Annotated[str, Field(max_length=200)]


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


class CodeFormatIn(In):
    kind: Literal["alphanumeric", "numeric"] = "alphanumeric"
    length: StrictInt = 16
    luhn: StrictBool = False
    prefix: Annotated[str, Field(max_length=16)] = ""
    group: StrictInt = 4


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
    code_in_message: StrictBool = Field(
        default=False,
        description="Email and SMS deliveries carry the code (and PIN) itself; by default only the reward link.",
    )
    supplier: Annotated[str, Field(max_length=40)] = "house"
    issuer: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="The issuing account's id; absent: the operator's own account."
    )
    active: StrictBool = True

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
    code_in_message: StrictBool | None = None
    supplier: Annotated[str, Field(max_length=40)] | None = None
    issuer: Annotated[str, Field(max_length=40)] | None = None
    active: StrictBool | None = None

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
    code_in_message: bool
    supplier: str
    issuer: str | None
    active: bool

    @classmethod
    def of(cls, p: Product) -> ProductOut:
        return cls(**products.as_dict(p))


class ProductList(BaseModel):
    data: list[ProductOut]


class BalanceOut(BaseModel):
    currency: str
    balance: int
    available: int

    @classmethod
    def of(cls, b: Balance) -> BalanceOut:
        return cls(currency=b.currency, balance=b.balance, available=b.available)


class AccountOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    balances: list[BalanceOut]

    @classmethod
    def of(cls, a: AccountInfo, balances: list[Balance]) -> AccountOut:
        return cls(id=a.id, name=a.name, created_at=a.created_at, balances=[BalanceOut.of(b) for b in balances])


class StatementOut(BaseModel):
    data: list[TransferOut]
    has_more: bool
    next_cursor: str | None


class RecipientIn(In):
    name: Str200 | None = None
    email: Annotated[str, Field(max_length=320)] | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None


class SenderIn(In):
    name: Str200 | None = None
    email: Annotated[str, Field(max_length=320)] | None = None


class DeliveryIn(In):
    channel: Literal["email", "sms", "none"] = Field(
        default="none", description="email: to recipient.email; sms: to recipient.phone (E.164); none: you deliver."
    )
    scheduled_at: AwareDatetime | None = Field(default=None, description="Send at this time; absent: at once.")
    image_url: Annotated[str, Field(max_length=2000)] | None = Field(
        default=None, description="A picture for the message and reward page (defaults to the product's)."
    )
    locale: Annotated[str, Field(max_length=35)] | None = Field(
        default=None,
        description="Recipient's locale for amounts and dates, like de-DE (default GIFTWELL_DEFAULT_LOCALE).",
    )


class ItemIn(In):
    product: Annotated[str, Field(max_length=80)]
    amount: StrictInt = Field(description="Face value of each card, in minor units.")
    quantity: StrictInt = 1
    country: Annotated[str, Field(min_length=2, max_length=2)] | None = None
    recipient: RecipientIn | None = None
    sender: SenderIn | None = None
    message: str | None = Field(default=None, description="Personal message, up to 500 characters.")
    fields: dict[str, Any] | None = None
    delivery: DeliveryIn | None = Field(default=None, description="Absent: nothing is sent; you deliver the codes.")

    def domain(self) -> ItemRequest:
        return ItemRequest(
            product=self.product,
            amount=self.amount,
            quantity=self.quantity,
            country=self.country,
            recipient=self.recipient.model_dump() if self.recipient else {},
            sender=self.sender.model_dump() if self.sender else {},
            message=self.message,
            fields=self.fields or {},
            delivery=self.delivery.model_dump() if self.delivery else None,
        )


class OrderIn(In):
    reference: Annotated[str, Field(min_length=1, max_length=200, description="Your own id, unique per account.")]
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=100)]
    test: StrictBool = False
    mode: Mode = Field(
        default=Mode.AUTO,
        description="auto: up to 10 cards are issued in the request (200), more in the background (202, pending); "
        "sync: at most 10 cards, always in the request; async: always in the background.",
    )

    def domain(self) -> OrderRequest:
        return OrderRequest(self.reference, [i.domain() for i in self.items], self.test, self.mode)


class OrderCardOut(BaseModel):
    id: str = Field(description="The order card's id (`oc_...`), as `POST /v1/orders/{id}/cancel` takes it.")
    status: str = Field(description="pending, issued, failed (see `error`) or cancelled.")
    card_id: str | None = Field(description="The card made for it, once issued.")
    card_status: str | None = Field(description="The card's own status: active, disabled, expired, ...")
    code: str | None = Field(
        description="The card's code, in full: the buyer owns it. Every response that shows it is recorded."
    )
    pin: str | None
    serial: str | None
    link: str | None = Field(description="The reward link for the recipient's page.")
    expires_at: datetime | None
    error: str | None = Field(description="Why the card could not be made (status failed).")

    @classmethod
    def of(cls, c: CardView) -> OrderCardOut:
        return cls(**{f: getattr(c, f) for f in c.__slots__})


class OrderItemOut(BaseModel):
    id: str
    product: str
    amount: int
    quantity: int
    price: int = Field(description="Price per card, in minor units: face value less discount plus fee.")
    status: str = Field(description="pending, processing, completed, partial, failed or cancelled, from its cards.")
    country: str | None
    recipient: dict[str, Any]
    sender: dict[str, Any]
    message: str | None
    fields: dict[str, Any]
    delivery: dict[str, Any] | None
    cards: list[OrderCardOut]

    @classmethod
    def of(cls, i: ItemView) -> OrderItemOut:
        data = {f: getattr(i, f) for f in i.__slots__}
        data["cards"] = [OrderCardOut.of(c) for c in i.cards]
        return cls(**data)


class OrderOut(BaseModel):
    id: str
    reference: str
    status: str = Field(
        description="pending (accepted, nothing issued yet), processing (being issued), then completed, partial "
        "(some cards failed), failed (none issued) or cancelled."
    )
    mode: str
    test: bool = Field(description="A test order: charges nothing; its cards are marked test and never redeem.")
    currency: str
    card_count: int
    total_face_value: int
    total_price: int = Field(description="Reserved from the funding balance when the order was placed.")
    charged: int = Field(description="Captured so far: the price of the cards issued.")
    refunded: int = Field(description="Returned to the funding balance for cancelled cards.")
    created_at: datetime
    completed_at: datetime | None
    items: list[OrderItemOut] | None = Field(default=None, description="With their cards; absent in lists.")

    @classmethod
    def of(cls, o: OrderView) -> OrderOut:
        data = {f: getattr(o, f) for f in o.__slots__}
        data["status"] = o.status.value
        data["items"] = [OrderItemOut.of(i) for i in o.items] if o.items is not None else None
        return cls(**data)


class OrderList(BaseModel):
    data: list[OrderOut]
    has_more: bool
    next_cursor: str | None


class CancelIn(In):
    cards: list[Annotated[str, Field(max_length=40)]] | None = Field(
        default=None, description="Order card ids to cancel; absent: the whole order."
    )


class CancelOut(BaseModel):
    cancelled: int
    order: OrderOut
