"""Listing an account's cards with filters, sorts and cursor paging."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from giftwell.domain import codes
from giftwell.domain.card_query import search_words, sort_key
from giftwell.domain.cards import (
    Card,
    CardStatus,
)
from giftwell.domain.delivery import Channel, DeliveryStatus
from giftwell.domain.errors import ValidationFailed
from giftwell.services.cards import text
from giftwell.services.cards.query import sorted_select
from giftwell.services.cards.reads import card_from_row, select_cards
from giftwell.services.currencies import currency as check_currency
from giftwell.services.pagination import Page, check_limit, paginate
from giftwell.store.models import Card as CardRow
from giftwell.store.models import Delivery
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class CardFilters:
    status: CardStatus | None = None
    currency: str | None = None
    recipient_email: str | None = None
    sender_email: str | None = None
    code_suffix: str | None = None
    created_gte: datetime | None = None
    created_lte: datetime | None = None
    name: str | None = None  # part of the sender's or recipient's name, any case
    delivery_status: DeliveryStatus | None = None  # a delivery of the card is in this state
    delivery_since: datetime | None = None  # ... and was last updated at or after this
    text: str | None = None  # every word in the card's text, as the card query's `text` field


async def list_cards(
    uow: UnitOfWork,
    *,
    account_id: str,
    filters: CardFilters,
    sort: str = "-created_at",
    limit: int = 20,
    cursor: str | None = None,
) -> Page[Card]:
    """The account's cards that match `filters`, in `sort` order. A recipient email finds the
    card's own recipient and the address of any email delivery of it (a recipient named later,
    by `/send` or `/resend`)."""
    q, order = sorted_select(select_cards(), sort_key(sort))  # any sort of the card query
    check_limit(limit)
    q = q.where(CardRow.account_id == account_id)
    f = filters
    if f.status is not None:
        q = q.where(CardRow.status == f.status.value)
    if f.currency is not None:
        # Checked like a card's currency: "eur" or "XXX" is a 422, not an empty list.
        q = q.where(CardRow.currency == check_currency(f.currency).code)
    if f.recipient_email:
        email = f.recipient_email.strip().lower()
        delivered = sa.select(Delivery.card_id).where(
            Delivery.card_account_id == account_id,
            Delivery.to == email,
            Delivery.channel == Channel.EMAIL.value,
        )
        q = q.where(sa.or_(CardRow.recipient_email == email, CardRow.id.in_(delivered)))
    if f.sender_email:
        q = q.where(CardRow.sender_email == f.sender_email.strip().lower())
    if f.code_suffix:
        suffix = codes.normalize(f.code_suffix)
        if not 1 <= len(suffix) <= 4:
            raise ValidationFailed("code_suffix must be 1 to 4 characters", param="code_suffix")
        q = q.where(
            CardRow.code_last4 == suffix if len(suffix) == 4 else CardRow.code_last4.endswith(suffix, autoescape=True)
        )
    if f.created_gte is not None:
        q = q.where(CardRow.created_at >= f.created_gte)
    if f.created_lte is not None:
        q = q.where(CardRow.created_at <= f.created_lte)
    if f.name and f.name.strip():
        part = f.name.strip().lower()
        q = q.where(
            sa.or_(
                sa.func.lower(CardRow.recipient_name).contains(part, autoescape=True),
                sa.func.lower(CardRow.sender_name).contains(part, autoescape=True),
            )
        )
    if f.text is not None:
        q = q.where(text.condition(uow, account_id, search_words(f.text, param="text")))
    if f.delivery_status is not None or f.delivery_since is not None:
        sent = sa.select(Delivery.card_id).where(Delivery.card_account_id == account_id)
        if f.delivery_status is not None:
            sent = sent.where(Delivery.status == f.delivery_status.value)
        if f.delivery_since is not None:
            sent = sent.where(Delivery.updated_at >= f.delivery_since)
        q = q.where(CardRow.id.in_(sent))
    return await paginate(uow, q, sort=order, limit=limit, cursor=cursor, convert=card_from_row)
