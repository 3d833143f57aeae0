"""Listing an account's cards with filters, sorts and cursor paging."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain import codes
from giftwell.domain.cards import (
    Card,
    CardStatus,
)
from giftwell.domain.errors import ValidationFailed
from giftwell.services.cards.reads import card_from_row, select_cards
from giftwell.services.currencies import currency as check_currency
from giftwell.services.pagination import Page, check_limit, cursor_int, cursor_time, decode_cursor, encode_cursor
from giftwell.store.models import Card as CardRow
from giftwell.store.models import LedgerAccount
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


SORTS = ("created_at", "-created_at", "balance", "-balance")


async def list_cards(
    uow: UnitOfWork,
    *,
    account_id: str,
    filters: CardFilters,
    sort: str = "-created_at",
    limit: int = 20,
    cursor: str | None = None,
) -> Page[Card]:
    if sort not in SORTS:
        raise ValidationFailed(f"sort must be one of {', '.join(SORTS)}", param="sort")
    check_limit(limit)
    q = select_cards().where(CardRow.account_id == account_id)
    f = filters
    if f.status is not None:
        q = q.where(CardRow.status == f.status.value)
    if f.currency is not None:
        # Checked like a card's currency: "eur" or "XXX" is a 422, not an empty list.
        q = q.where(CardRow.currency == check_currency(f.currency).code)
    if f.recipient_email:
        q = q.where(CardRow.recipient_email == f.recipient_email.strip().lower())
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
    desc = sort.startswith("-")
    field = sort.lstrip("-")
    col: Any = CardRow.created_at if field == "created_at" else LedgerAccount.balance
    if cursor:
        raw, last_id = decode_cursor(cursor, sort)
        value: datetime | int = cursor_time(raw) if field == "created_at" else cursor_int(raw)
        if desc:
            q = q.where(sa.or_(col < value, sa.and_(col == value, CardRow.id < last_id)))
        else:
            q = q.where(sa.or_(col > value, sa.and_(col == value, CardRow.id > last_id)))
    q = q.order_by(col.desc(), CardRow.id.desc()) if desc else q.order_by(col.asc(), CardRow.id.asc())
    rows = (await uow.conn.execute(q.limit(limit + 1))).all()
    cards = [card_from_row(r) for r in rows[:limit]]
    has_more = len(rows) > limit
    next_cursor = None
    if has_more and cards:
        last = cards[-1]
        key = last.created_at.isoformat() if field == "created_at" else last.balance
        next_cursor = encode_cursor(sort, key, last.id)
    return Page(cards, has_more, next_cursor)
