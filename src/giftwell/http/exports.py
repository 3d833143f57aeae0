"""CSV exports the surfaces share (the API's and the dashboard's): cards, never their codes
(only the last four characters, shown everywhere), amounts in minor units and as decimals.

A cell that a spreadsheet would read as a formula (starting with =, +, -, @, a tab or a carriage
return) is prefixed with an apostrophe: names and emails are anyone's input."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable

from starlette.responses import StreamingResponse

from giftwell.domain.cards import Card
from giftwell.domain.money import to_major
from giftwell.services.currencies import currency

CARD_COLUMNS = (
    "id",
    "code_last4",
    "status",
    "currency",
    "balance",
    "balance_decimal",
    "initial_amount",
    "expires_at",
    "created_at",
    "recipient_name",
    "recipient_email",
    "sender_name",
    "sender_email",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    text = "" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def card_row(c: Card) -> list[str]:
    values: Iterable[object] = (
        c.id,
        c.code_last4,
        c.status.value,
        c.currency,
        c.balance,
        format(to_major(c.balance, currency(c.currency)), "f"),
        c.initial_amount,
        c.expires_at,
        c.created_at,
        c.recipient.name,
        c.recipient.email,
        c.sender.name,
        c.sender.email,
    )
    return [cell(v) for v in values]


def _line(row: Iterable[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(row)
    return buf.getvalue()


async def _lines(cards: AsyncIterator[Card]) -> AsyncIterator[str]:
    yield _line(CARD_COLUMNS)
    async for c in cards:
        yield _line(card_row(c))


def cards_csv(cards: AsyncIterator[Card], filename: str) -> StreamingResponse:
    return StreamingResponse(
        _lines(cards),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
