"""Request and response shapes of the catalog, account and order routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, StrictBool, StrictInt

from giftwell.api.v1.schemas.common import In, Str200
from giftwell.domain.orders import Mode
from giftwell.services.orders.order_cards import DeliveryState, OrderCardView
from giftwell.services.orders.placing import ChoiceRequest, ItemRequest, OrderRequest
from giftwell.services.orders.views import ItemView, OrderView


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


class ChoiceIn(In):
    products: list[Annotated[str, Field(max_length=80)]] | None = Field(
        default=None,
        max_length=100,
        description="The products the recipient may pick from; absent: every product you may buy for the "
        "item's country and currency.",
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the link ends (what is left becomes breakage); absent: in a year."
    )


class ItemIn(In):
    product: Annotated[str, Field(max_length=80)] | None = Field(
        default=None, description="The product of the cards; absent for a choice item (`choice`, or `country` alone)."
    )
    amount: StrictInt = Field(description="Face value of each card (of each choice link), in minor units.")
    quantity: StrictInt = 1
    country: Annotated[str, Field(min_length=2, max_length=2)] | None = Field(
        default=None,
        description="Where the card is used (ISO 3166-1 alpha-2). Without `product`: a choice link of every "
        "product sold there, in the country's currency.",
    )
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = Field(
        default=None, description="The item's currency; for a choice item, else taken from its country or products."
    )
    choice: ChoiceIn | None = Field(
        default=None,
        description="A choice reward link instead of a card: the recipient opens it, picks products and amounts "
        "worth `amount` in all, and gets a card of each; see `GET /v1/orders/{id}/links`.",
    )
    recipient: RecipientIn | None = None
    sender: SenderIn | None = None
    message: str | None = Field(default=None, description="Personal message, up to 500 characters.")
    fields: dict[str, Any] | None = None
    delivery: DeliveryIn | None = Field(default=None, description="Absent: nothing is sent; you deliver the codes.")
    metadata: dict[str, Any] | None = Field(
        default=None,
        description="Your own string keys and values (at most 50 keys of 40 characters, values of 500): "
        "stored, returned, and searchable with `item_metadata[key]=value` on the list.",
    )
    design: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="One of the product's `designs`, by id: the card's picture in messages and pages."
    )

    def domain(self) -> ItemRequest:
        return ItemRequest(
            product=self.product or "",
            amount=self.amount,
            quantity=self.quantity,
            country=self.country,
            currency=self.currency,
            choice=ChoiceRequest(self.choice.products, self.choice.expires_at) if self.choice else None,
            recipient=self.recipient.model_dump() if self.recipient else {},
            sender=self.sender.model_dump() if self.sender else {},
            message=self.message,
            fields=self.fields or {},
            delivery=self.delivery.model_dump() if self.delivery else None,
            metadata=self.metadata or {},
            design=self.design,
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
    metadata: dict[str, Any] | None = Field(
        default=None,
        description="Your own string keys and values (at most 50 keys of 40 characters, values of 500): "
        "stored, returned, and searchable with `metadata[key]=value` on the list.",
    )
    funding_source: Annotated[str, Field(max_length=40)] | None = Field(
        default=None,
        description="The funding source to pay from (`fs_...`, see `GET /v1/funding-sources`); absent: the "
        "default one for the order's currency.",
    )

    one_country: StrictBool = Field(
        default=False,
        description="Refuse the order unless every item names the same country (422, `param` the first item "
        "that differs, `differs` all of them).",
    )

    def domain(self) -> OrderRequest:
        return OrderRequest(
            self.reference,
            [i.domain() for i in self.items],
            self.test,
            self.mode,
            metadata=self.metadata or {},
            funding_source=self.funding_source,
            one_country=self.one_country,
        )


class DeliveryStateOut(BaseModel):
    id: str
    channel: str = Field(description="email or sms.")
    status: str = Field(description="scheduled, queued, sent or failed.")
    attempts: int = Field(description="Attempts to send it so far.")
    to: str
    last_attempt_at: datetime | None
    sent_at: datetime | None
    failed_at: datetime | None
    reason: str | None = Field(description="Why the last attempt failed.")

    @classmethod
    def of(cls, d: DeliveryState) -> DeliveryStateOut:
        return cls(**{f: getattr(d, f) for f in d.__slots__})


class OrderCardOut(BaseModel):
    id: str = Field(description="The order card's id (`oc_...`), as `POST /v1/orders/{id}/cancel` takes it.")
    item: str = Field(description="Its order item (`oi_...`).")
    status: str = Field(description="pending, issued, failed (see `error`) or cancelled.")
    card_id: str | None = Field(description="The card made for it, once issued.")
    card_status: str | None = Field(description="The card's own status: active, disabled, expired, ...")
    currency: str
    initial_balance: int | None = Field(description="The card's value when issued (minor units).")
    current_balance: int | None = Field(description="What the card holds now (posted balance, minor units).")
    code: str | None = Field(
        description="The card's code, in full: the buyer owns it. Every response that shows it is recorded."
    )
    pin: str | None
    serial: str | None
    link: str | None = Field(description="The reward link for the recipient's page.")
    expires_at: datetime | None
    first_opened_at: datetime | None = Field(description="When the recipient first opened the reward link.")
    last_opened_at: datetime | None
    open_count: int
    delivery: DeliveryStateOut | None = Field(description="The card's latest delivery by email or SMS, if any.")
    error: str | None = Field(description="Why the card could not be made (status failed).")

    @classmethod
    def of(cls, c: OrderCardView) -> OrderCardOut:
        data = {f: getattr(c, f) for f in c.__slots__}
        data["item"] = data.pop("item_id")
        data["delivery"] = DeliveryStateOut.of(c.delivery) if c.delivery else None
        return cls(**data)


class CountsOut(BaseModel):
    pending: int
    issued: int
    failed: int
    cancelled: int


class OrderItemOut(BaseModel):
    id: str
    product: str | None = Field(description="The cards' product; null for a choice item.")
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
    counts: CountsOut = Field(
        description="How many of its cards are in each status; `GET /v1/orders/{id}/cards` lists them."
    )
    metadata: dict[str, str] = Field(description="The item's own metadata, as given.")
    design: str | None = Field(default=None, description="The product design the cards were ordered in.")
    choice: dict[str, Any] | None = Field(
        default=None, description="A choice item's products and its links' expiry (`expires_at`, null: a year)."
    )

    @classmethod
    def of(cls, i: ItemView) -> OrderItemOut:
        data = {f: getattr(i, f) for f in i.__slots__ if f != "cards"}
        data["counts"] = CountsOut(**i.counts)
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
    items: list[OrderItemOut] | None = Field(
        default=None, description="With their cards' counts; absent in lists. The cards: `GET /v1/orders/{id}/cards`."
    )
    metadata: dict[str, str] = Field(description="The order's own metadata, as given.")
    funding_source: str | None = Field(default=None, description="The funding source it pays from (`fs_...`).")

    @classmethod
    def of(cls, o: OrderView) -> OrderOut:
        data = {f: getattr(o, f) for f in o.__slots__}
        data["status"] = o.status.value
        data["items"] = [OrderItemOut.of(i) for i in o.items] if o.items is not None else None
        return cls(**data)


class CancelIn(In):
    cards: list[Annotated[str, Field(max_length=40)]] | None = Field(
        default=None, description="Order card ids to cancel; absent: the whole order."
    )


class CancelOut(BaseModel):
    cancelled: int
    order: OrderOut
