"""What a recipient sees: the card's presentation (brand, image, amounts in the recipient's
locale, expiry, instructions, message and sender), and the email and SMS built from it.

Amounts and dates are formatted with Babel (CLDR): `format_currency` knows each currency's digits
and each locale's symbol placement. Email templates are Jinja2 with autoescaping on for HTML, so
a personal message is always text, never markup. Messages carry the reward link, not the code,
unless the card's product sets `code_in_message`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from giftwell.domain.cards import Card
from giftwell.domain.catalog import Product
from giftwell.domain.errors import NotFound
from giftwell.services.catalog import products
from giftwell.services.currencies import currency as check_currency
from giftwell.store.models import Account, OrderCard, OrderItem
from giftwell.store.uow import UnitOfWork

DEFAULT_INSTRUCTIONS = "Give the code (and PIN, if there is one) at checkout, or show the QR code at the till."

_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@lru_cache(maxsize=256)
def locale_of(tag: str | None, default: str = "en") -> Locale:
    """A Babel locale for `tag` (`de-DE`, `pt_BR`, `fr`), falling back to `default`, then `en`."""
    for candidate in (tag, default, "en"):
        if not candidate:
            continue
        try:
            return Locale.parse(candidate.replace("-", "_"))
        except (ValueError, UnknownLocaleError):
            continue
    return Locale.parse("en")


def money(amount: int, currency: str, locale: Locale) -> str:
    cur = check_currency(currency)
    return str(format_currency(Decimal(amount).scaleb(-cur.exponent), cur.code, locale=locale))


def day(value: datetime, locale: Locale) -> str:
    return str(format_date(value.date(), format="long", locale=locale))


@dataclass(frozen=True, slots=True)
class Presentation:
    card_id: str
    brand: str
    image_url: str | None
    instructions: str
    currency: str
    amount: int
    balance: int
    amount_text: str
    balance_text: str
    expires_at: datetime | None
    expires_text: str | None
    locale: str
    lang: str
    sender_name: str | None
    recipient_name: str | None
    message: str | None
    has_pin: bool
    status: str
    code_in_message: bool = False
    # The product design the card was ordered in (its picture is `image_url` unless the delivery
    # brought a picture of its own, in which case the design is shown beside it).
    design_name: str | None = None
    design_image_url: str | None = None


async def present(
    uow: UnitOfWork,
    card: Card,
    *,
    locale: str | None = None,
    sender_name: str | None = None,
    recipient_name: str | None = None,
    message: str | None = None,
    image_url: str | None = None,
) -> Presentation:
    """The card as its recipient sees it. Brand, image and instructions come from the card's
    product when it was ordered (else the issuing account's name and a default text), the
    picture from the order item's design if it chose one; message, names and image from the
    delivery, else the order item, else the card's own parties."""
    product = await _product(uow, card)
    brand, product_image, instructions, code_in_message = await _brand(uow, card, product)
    item = await _order_item(uow, card) if product is not None else None
    # A design since removed from the catalog is simply not shown: the card is still sent.
    chosen = item.design_id if item is not None else None
    design = next((d for d in product.designs if d.id == chosen), None) if product and chosen else None
    if item is not None and message is None and sender_name is None:
        message = item.message
        sender_name = (item.sender or {}).get("name")
        recipient_name = recipient_name or (item.recipient or {}).get("name")
    loc = locale_of(locale, uow.rt.settings.default_locale)
    return Presentation(
        card_id=card.id,
        brand=brand,
        image_url=image_url or (design.image_url if design else None) or product_image,
        instructions=instructions or DEFAULT_INSTRUCTIONS,
        currency=card.currency,
        amount=card.initial_amount,
        balance=card.balance,
        amount_text=money(card.initial_amount, card.currency, loc),
        balance_text=money(card.balance, card.currency, loc),
        expires_at=card.expires_at,
        expires_text=day(card.expires_at, loc) if card.expires_at else None,
        locale=str(loc),
        lang=loc.language,
        sender_name=sender_name or card.sender.name,
        recipient_name=recipient_name or card.recipient.name,
        message=message,
        has_pin=card.has_pin,
        status=card.status.value,
        code_in_message=code_in_message,
        design_name=design.name if design else None,
        design_image_url=design.image_url if design else None,
    )


async def _product(uow: UnitOfWork, card: Card) -> Product | None:
    product_id = card.metadata.get("product") if isinstance(card.metadata, dict) else None
    if not isinstance(product_id, str):
        return None
    try:
        return await products.get(uow, product_id)
    except NotFound:
        return None


async def _brand(uow: UnitOfWork, card: Card, p: Product | None) -> tuple[str, str | None, str, bool]:
    if p is not None:
        return p.brand or p.name, p.image_url, p.redemption_instructions, p.code_in_message
    name = await uow.conn.scalar(sa.select(Account.name).where(Account.id == card.account_id))
    return str(name or "Gift card"), None, "", False


async def _order_item(uow: UnitOfWork, card: Card) -> Any:
    q = sa.select(OrderItem).join(OrderCard, OrderCard.item_id == OrderItem.id).where(OrderCard.card_id == card.id)
    return (await uow.conn.execute(q)).first()


def subject(p: Presentation) -> str:
    if p.sender_name:
        return f"{p.sender_name} sent you a {p.amount_text} {p.brand} gift card"
    return f"Your {p.amount_text} {p.brand} gift card"


@dataclass(frozen=True, slots=True)
class Secret:
    """The code and PIN, for a message whose product puts them in it (`code_in_message`)."""

    code: str
    pin: str | None


def _context(p: Presentation, link: str, balance_url: str, secret: Secret | None) -> dict[str, Any]:
    return {"p": p, "link": link, "balance_url": balance_url, "subject": subject(p), "secret": secret}


def email(
    p: Presentation,
    *,
    to: str,
    mail_from: str,
    link: str,
    balance_url: str,
    delivery_id: str,
    secret: Secret | None = None,
) -> EmailMessage:
    """A multipart/alternative email: plain text first, then HTML (what mail clients prefer)."""
    ctx = _context(p, link, balance_url, secret)
    msg = EmailMessage()
    display, address = parseaddr(mail_from)
    from_name = f"{p.sender_name} via {display or p.brand}" if p.sender_name else (display or p.brand)
    msg["From"] = formataddr((from_name, address))
    msg["To"] = Address(display_name=p.recipient_name or "", addr_spec=to)
    msg["Subject"] = subject(p)
    domain = address.rpartition("@")[2] or "giftwell.invalid"
    # Stable per delivery: a message sent again after a crash keeps its Message-ID, so receiving
    # systems can tell it is the same message.
    msg["Message-ID"] = f"<{delivery_id}@{domain}>"
    msg["X-Giftwell-Delivery"] = delivery_id
    msg.set_content(_env.get_template("email.txt").render(ctx))
    msg.add_alternative(_env.get_template("email.html").render(ctx), subtype="html")
    return msg


def sms(p: Presentation, *, link: str, secret: Secret | None = None) -> str:
    return " ".join(_env.get_template("sms.txt").render(_context(p, link, "", secret)).split())
