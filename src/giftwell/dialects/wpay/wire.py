"""Reading a Wpay Gifting "Submit Order" body: the seed's fields, exactly typed.

The JSON is parsed with every non-integer number as an exact `Decimal` (never a float), then
checked by strict models: a string where a number belongs, a number where a string belongs, a
field the seed does not have, a NUL character, a negative amount: each is a `WireError` naming
the field in the vendor's own path (`giftItemsInfo[0].activationValue`). The vendor's request
rules live here too, as Laravel's form rules live in the Sanctum dialect: at most 10 cards per
order, `sendAsGift` needs `senderInfo`, at most one delivery per gift item. Whether a product,
amount, design or address is acceptable is the services' business.
"""

# ruff: noqa: N815 - the models' fields are the vendor's camelCase names, so they read and write it as is

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

MAX_BODY = 256 * 1024
# "You can include up to 10 gift cards within a single order request."
MAX_CARDS = 10
MAX_AMOUNT_DIGITS = 20
# "Amount exceeds maximum allowed order value": the vendor's code for an order past its limit.
TOO_MANY_CARDS = "5338"


class WireError(Exception):
    """The body broke a field rule: `(field, message)` pairs, the first one the answer's; `code`
    when the vendor has a code of its own for the rule."""

    def __init__(self, errors: list[tuple[str, str]], *, code: str | None = None) -> None:
        super().__init__("; ".join(f"{f}: {m}" if f else m for f, m in errors))
        self.errors = errors
        self.code = code

    @property
    def field(self) -> str | None:
        return self.errors[0][0] or None


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _amount(value: Any) -> Any:
    # JSON integers arrive as int, every other number as an exact Decimal; a bool is not a number.
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite() or len(value.as_tuple().digits) > MAX_AMOUNT_DIGITS or value.adjusted() > 15:
            raise ValueError("must be a finite amount of at most 15 digits before the point")
        if value < 0:
            raise ValueError("must not be negative")
    return value


def _date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date written YYYY-MM-DD") from None
    return value


Text = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_nul)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2000), AfterValidator(_no_nul)]
Currency = Annotated[str, StringConstraints(min_length=3, max_length=3), AfterValidator(_no_nul)]
Money = Annotated[Decimal, BeforeValidator(_amount)]
Day = Annotated[date, BeforeValidator(_date)]


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Campaign(Wire):
    campaignCode: Text | None = None
    campaignDetails: Text | None = None
    campaignType: Text | None = None
    campaignValue: Text | None = None


class PaymentReference(Wire):
    paymentReferenceId: Text | None = None
    paymentMethod: Text | None = None


class Donation(Wire):
    amount: Money | None = None
    currencyCode: Currency | None = None
    organisationCode: Text | None = None


class PaymentInfo(Wire):
    paymentReferenceInfo: Annotated[list[PaymentReference], Field(max_length=20)] | None = None
    currencyCode: Currency | None = None
    totalAmountPaid: Money | None = None
    totalDiscount: Money | None = None
    campaignsInfo: Annotated[list[Campaign], Field(max_length=20)] | None = None
    donationsInfo: Annotated[list[Donation], Field(max_length=20)] | None = None


class CustomerInfo(Wire):
    edrNumber: Text | None = None
    customerId: Text | None = None
    email: Text | None = None
    firstName: Text | None = None
    lastName: Text | None = None
    customerType: Text | None = None
    accountId: Text | None = None


class Address(Wire):
    line1: Text | None = None
    line2: Text | None = None
    suburb: Text | None = None
    state: Text | None = None
    city: Text | None = None
    postalCode: Text | None = None
    country: Text | None = None
    phone: Text | None = None
    extension: Text | None = None
    mobile: Text | None = None


class OrderNote(Wire):
    detail: Text | None = None
    operatorId: Text | None = None


class BillingInfo(Wire):
    firstName: Text | None = None
    lastName: Text | None = None
    address: Address | None = None


class SenderInfo(Wire):
    firstName: Text | None = None
    lastName: Text | None = None


class DeliverySchedule(Wire):
    # NOW, or SCHEDULED on `deliveryDate` (the seed shows NOW; the name of the other is ours).
    scheduleType: Literal["NOW", "SCHEDULED"] = "NOW"
    deliveryDate: Day | None = None


class DeliveryInfo(Wire):
    deliveryMode: Literal["EMAIL", "SMS"]
    email: Text | None = None
    mobile: Text | None = None
    address: Address | None = None
    deliveryNote: Text | None = None


class FulfillmentInfo(Wire):
    senderInfo: SenderInfo | None = None
    deliveryFee: Money | None = None
    deliverySchedule: DeliverySchedule | None = None
    # One delivery per gift item: every card of the item goes to it.
    deliveryInfo: Annotated[list[DeliveryInfo], Field(max_length=1)] | None = None


class Image(Wire):
    imageType: Text
    location: Url


class Assets(Wire):
    images: Annotated[list[Image], Field(max_length=10)] | None = None


class Personalisation(Wire):
    # "We currently only support personalised text messages."
    personalisationType: Literal["TEXT"]
    message: Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_nul)] | None = None
    assets: Assets | None = None


class GiftItem(Wire):
    clientItemId: Text | None = None
    sendAsGift: bool = False
    productId: Id
    designId: Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_no_nul)] | None = None
    currencyCode: Currency
    activationValue: Money
    campaignInfo: Annotated[list[Campaign], Field(max_length=20)] | None = None
    amountPaid: Money | None = None
    fulfillmentInfoDto: FulfillmentInfo | None = None
    personalisationInfo: Annotated[list[Personalisation], Field(max_length=1)] | None = None
    quantity: Annotated[int, Field(ge=1, le=10_000)] = 1

    @model_validator(mode="after")
    def _sender_for_a_gift(self) -> GiftItem:
        if self.sendAsGift and (self.fulfillmentInfoDto is None or self.fulfillmentInfoDto.senderInfo is None):
            raise ValueError("sendAsGift is true: fulfillmentInfoDto.senderInfo is required")
        return self


class SubmitOrder(Wire):
    clientOrderNumber: Id
    originalClientOrderNumber: Text | None = None
    clientTransactionId: Text | None = None
    invoiceNumber: Text | None = None
    paymentInfo: PaymentInfo | None = None
    customerInfo: CustomerInfo | None = None
    clientConsumerReferenceId: Text | None = None
    clientCartId: Text | None = None
    clientApplicationId: Text | None = None
    giftItemsInfo: Annotated[list[GiftItem], Field(max_length=100)] | None = None
    storeId: Text | None = None
    orderNote: OrderNote | None = None
    billingInfo: BillingInfo | None = None
    # Giftwell's reversal flag (the vendor's field for it was not published): this submit
    # reverses `originalClientOrderNumber` instead of placing an order.
    reversal: bool = False


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not part.startswith(("function-", "literal[")):
            out += f".{part}" if out else part
    return out


def _errors(exc: ValidationError) -> list[tuple[str, str]]:
    found = []
    for e in exc.errors(include_url=False)[:20]:
        message = str(e.get("msg", "is invalid")).removeprefix("Value error, ")
        found.append((_path(tuple(e.get("loc", ()))), message))
    return found


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_length(content_length: str | None) -> None:
    """Refuse a body announced larger than `MAX_BODY` before reading it."""
    if content_length is not None and content_length.isdigit() and int(content_length) > MAX_BODY:
        raise WireError([("", f"the request body is larger than {MAX_BODY} bytes")])


def parse(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, numbers exact, or a `WireError` with no field."""
    if len(raw) > MAX_BODY:
        raise WireError([("", f"the request body is larger than {MAX_BODY} bytes")])
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_not_json_constant)
    except (ValueError, RecursionError):
        raise WireError([("", "the request body is not valid JSON")]) from None
    if not isinstance(data, dict):
        raise WireError([("", "the request body must be a JSON object")])
    return data


def read(data: dict[str, Any]) -> SubmitOrder:
    """The order, or a `WireError` listing what is wrong (the first one answers)."""
    try:
        order = SubmitOrder.model_validate(data)
    except ValidationError as exc:
        raise WireError(_errors(exc)) from None
    if order.reversal:
        if not order.originalClientOrderNumber:
            raise WireError([("originalClientOrderNumber", "a reversal names the order it reverses")])
        return order
    if not order.giftItemsInfo:
        raise WireError([("giftItemsInfo", "an order needs at least one gift item")])
    cards = sum(i.quantity for i in order.giftItemsInfo)
    if cards > MAX_CARDS:
        raise WireError(
            [("giftItemsInfo", f"an order holds at most {MAX_CARDS} gift cards ({cards} asked)")], code=TOO_MANY_CARDS
        )
    return order


def stored(model: type[Wire], data: dict[str, Any]) -> Wire:
    """A model read back from what was stored (`model_dump(mode="json")`: amounts as strings)."""
    return model.model_validate(data, strict=False)
