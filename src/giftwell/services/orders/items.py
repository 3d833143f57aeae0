"""The parts of an order item's check that do not depend on its product: the parties, the
delivery, and choice items (a value and a set of products the recipient picks from, instead of
one product: see services/delivery/choice.py), and the country rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from giftwell.domain.catalog import Product
from giftwell.domain.contacts import check_email, check_phone
from giftwell.domain.delivery import Channel as DeliveryChannel
from giftwell.domain.delivery import Notification, check_notification
from giftwell.domain.errors import NotFound, ValidationFailed
from giftwell.domain.metadata import check_metadata
from giftwell.domain.money import MAX_AMOUNT
from giftwell.domain.orders import MAX_MESSAGE, Channel
from giftwell.services.catalog import products as catalog
from giftwell.services.currencies import country_currency
from giftwell.services.currencies import currency as check_currency
from giftwell.services.delivery import choice
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class ChoiceRequest:
    """An item's choice: `products` the recipient may pick from (None: every product the buyer
    may buy for the item's country and currency); `expires_at` ends the link (None: a year)."""

    products: list[str] | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ItemRequest:
    product: str
    amount: int
    quantity: int = 1
    country: str | None = None
    recipient: dict[str, str | None] = field(default_factory=dict)
    sender: dict[str, str | None] = field(default_factory=dict)
    message: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    delivery: dict[str, Any] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    # One of the product's designs, by id: the card's picture in its messages and page.
    design: str | None = None
    # A vendor dialect's own fields for this item, kept as given (JSON) and shown back by it.
    vendor_data: dict[str, Any] | None = None
    # The currency the caller expects the product to be in (a vendor's item names one): another
    # is refused rather than a card of another currency made.
    currency: str | None = None
    # A choice reward link instead of a card of `product` (leave `product` empty): the recipient
    # picks products worth `amount` in all. An item with neither product nor choice but a
    # country is a choice of every product for that country.
    choice: ChoiceRequest | None = None

    @property
    def is_choice(self) -> bool:
        return self.choice is not None or not self.product


@dataclass(frozen=True, slots=True)
class Checked:
    req: ItemRequest
    # None for a choice item.
    product: Product | None
    currency: str
    price: int
    fields: dict[str, str]
    recipient: dict[str, str | None]
    sender: dict[str, str | None]
    delivery: dict[str, Any] | None
    metadata: dict[str, str]
    design: str | None = None
    # A choice item's `{"products": [...], "expires_at": iso}` as stored on the item.
    choice: dict[str, Any] | None = None


def party(raw: dict[str, str | None], param: str, *, phone: bool) -> dict[str, str | None]:
    out: dict[str, str | None] = {"name": (raw.get("name") or "").strip() or None}
    email = (raw.get("email") or "").strip() or None
    out["email"] = check_email(email, param=f"{param}.email") if email is not None else None
    if phone:
        number = (raw.get("phone") or "").strip() or None
        if number is not None:
            number = check_phone(number, param=f"{param}.phone")
        out["phone"] = number
    return out


def delivery(
    raw: dict[str, Any] | None, recipient: dict[str, str | None], p: str, now: datetime
) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        channel = Channel(raw.get("channel", "none"))
    except ValueError:
        raise ValidationFailed("delivery.channel must be email, sms or none", param=f"{p}.delivery.channel") from None
    if channel is Channel.EMAIL and not recipient.get("email"):
        raise ValidationFailed("email delivery needs recipient.email", param=f"{p}.recipient.email", rule="required")
    if channel is Channel.SMS and not recipient.get("phone"):
        raise ValidationFailed("sms delivery needs recipient.phone", param=f"{p}.recipient.phone", rule="required")
    at = raw.get("scheduled_at")
    if at is not None:
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise ValidationFailed("scheduled_at needs a timezone", param=f"{p}.delivery.scheduled_at")
        if at <= now:
            raise ValidationFailed("scheduled_at must be in the future", param=f"{p}.delivery.scheduled_at")
    out: dict[str, Any] = {"channel": channel.value, "scheduled_at": at.isoformat() if at else None}
    if channel is Channel.NONE:
        return out
    # The rules the delivery itself will apply, checked now: a card must never fail to be sent
    # (or a background batch abort) for a field the order could have refused.
    field = "email" if channel is Channel.EMAIL else "phone"
    try:
        n = check_notification(
            Notification(
                channel=DeliveryChannel(channel.value),
                to=str(recipient.get(field) or ""),
                image_url=raw.get("image_url"),
                scheduled_at=at,
                locale=raw.get("locale"),
            ),
            now=now,
            param=f"{p}.delivery",
        )
    except ValidationFailed as exc:
        if exc.param == f"{p}.delivery.to":
            raise ValidationFailed(
                exc.message.replace("to ", f"recipient.{field} ", 1), param=f"{p}.recipient.{field}"
            ) from None
        raise
    out.update(image_url=n.image_url, locale=n.locale)
    return out


async def check_choice(uow: UnitOfWork, i: int, item: ItemRequest, currency: str | None) -> Checked:
    """A choice item: its currency (the item's, else its country's, else the order's), its
    products (named ones checked, else every choosable one), its amount (the link's value, a
    positive number of minor units), its price (the value: choice links carry no discount)."""
    p = f"items[{i}]"
    spec = item.choice or ChoiceRequest()
    if item.country is not None:
        country_currency(item.country, param=f"{p}.country")
    if item.currency is not None:
        cur = check_currency(item.currency, param=f"{p}.currency").code
    elif item.country is not None:
        cur = country_currency(item.country, param=f"{p}.country").code
    elif spec.products:
        cur = None
    elif currency is not None:
        cur = currency
    else:
        raise ValidationFailed(
            "give a product, or for a choice item a country, a currency or a list of products",
            param=f"{p}.product",
            rule="required",
        )
    if cur is None:
        first = spec.products[0] if spec.products else ""
        try:
            cur = (await catalog.get(uow, first)).currency if isinstance(first, str) else ""
        except NotFound:  # `eligible` names it below
            cur = currency or ""
    if currency is not None and cur != currency:
        raise ValidationFailed(
            f"all items of an order share one currency ({currency}); this item is {cur}",
            param=f"{p}.currency",
            rule="currency",
        )
    names = await choice.eligible(
        uow, currency=cur, country=item.country, names=spec.products, param=f"{p}.choice.products"
    )
    if isinstance(item.amount, bool) or not isinstance(item.amount, int) or not 0 < item.amount <= MAX_AMOUNT:
        raise ValidationFailed(f"amount must be 1 to {MAX_AMOUNT} minor units", param=f"{p}.amount")
    # A link worth less than every product's smallest card could never be spent.
    smallest = min([_smallest(await catalog.get(uow, name)) for name in names])
    if item.amount < smallest:
        raise ValidationFailed(
            f"amount is less than the smallest card any of its products sells ({smallest})",
            param=f"{p}.amount",
            rule="below_minimum",
            min=smallest,
        )
    if isinstance(item.quantity, bool) or not isinstance(item.quantity, int) or item.quantity < 1:
        raise ValidationFailed("quantity must be at least 1", param=f"{p}.quantity")
    if spec.expires_at is not None and (spec.expires_at.tzinfo is None or spec.expires_at <= uow.now):
        raise ValidationFailed(
            "choice.expires_at must be in the future, with a timezone", param=f"{p}.choice.expires_at"
        )
    if item.message is not None and len(item.message) > MAX_MESSAGE:
        raise ValidationFailed(f"message is longer than {MAX_MESSAGE} characters", param=f"{p}.message")
    if item.design is not None or item.fields:
        which = "design" if item.design is not None else "fields"
        raise ValidationFailed("a choice item has no product: leave design and fields out", param=f"{p}.{which}")
    recipient = party(item.recipient, f"{p}.recipient", phone=True)
    sender = party(item.sender, f"{p}.sender", phone=False)
    sent = delivery(item.delivery, recipient, p, uow.now)
    stored = {"products": names, "expires_at": spec.expires_at.isoformat() if spec.expires_at else None}
    metadata = check_metadata(item.metadata, param=f"{p}.metadata")
    return Checked(item, None, cur, item.amount, {}, recipient, sender, sent, metadata, None, stored)


def _smallest(product: Product) -> int:
    d = product.denominations
    return min(d.values) if d.values else int(d.min or 0)


def check_one_country(items: list[ItemRequest]) -> None:
    """WeGift's rule: every item names the same country. Refused naming the first item that
    differs, with the indexes of all that do (`differs`)."""
    first = items[0].country
    if first is None:
        raise ValidationFailed("every item needs a country", param="items[0].country", rule="required")
    differs = [i for i, it in enumerate(items) if it.country != first]
    if differs:
        listed = ", ".join(map(str, differs))
        raise ValidationFailed(
            f"all items of an order must have the same country ({first}); items {listed} differ",
            param=f"items[{differs[0]}].country",
            rule="one_country",
            differs=differs,
        )
