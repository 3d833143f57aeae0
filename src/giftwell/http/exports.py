"""CSV exports the surfaces share (the API's and the dashboard's): cards, never their codes
(only the last four characters, shown everywhere), amounts in minor units and as decimals; the
audit log.

A cell that a spreadsheet would read as a formula (starting with =, +, -, @, a tab or a carriage
return) is prefixed with an apostrophe: names and emails are anyone's input."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable

from starlette.responses import StreamingResponse

from giftwell.domain.cards import Card
from giftwell.domain.money import to_major
from giftwell.services.audit.records import AuditView
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


async def _lines(header: Iterable[str], rows: AsyncIterator[Iterable[object]]) -> AsyncIterator[str]:
    yield _line(header)
    async for row in rows:
        yield _line(cell(v) for v in row)


def csv_download(header: Iterable[str], rows: AsyncIterator[Iterable[object]], filename: str) -> StreamingResponse:
    """A CSV streamed as it is read, each cell made safe for spreadsheets (`cell`)."""
    return StreamingResponse(
        _lines(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


async def _card_rows(cards: AsyncIterator[Card]) -> AsyncIterator[Iterable[object]]:
    async for c in cards:
        yield card_row(c)


def cards_csv(cards: AsyncIterator[Card], filename: str) -> StreamingResponse:
    return csv_download(CARD_COLUMNS, _card_rows(cards), filename)


AUDIT_COLUMNS = (
    "id",
    "occurred_at",
    "account_id",
    "action",
    "target_type",
    "target_id",
    "actor_type",
    "actor_id",
    "actor_account_id",
    "ip",
    "request_id",
    "changes",
)


async def _audit_rows(events: AsyncIterator[AuditView]) -> AsyncIterator[Iterable[object]]:
    async for e in events:
        yield (
            e.id,
            e.occurred_at,
            e.account_id,
            e.action,
            e.target_type,
            e.target_id,
            e.actor_type,
            e.actor_id,
            e.actor_account_id,
            e.ip,
            e.request_id,
            json.dumps(e.changes, sort_keys=True, default=str),
        )


def audit_csv(events: AsyncIterator[AuditView], filename: str) -> StreamingResponse:
    """The audit log as CSV, oldest first, `changes` as a JSON cell (never a secret: the audit
    log records none)."""
    return csv_download(AUDIT_COLUMNS, _audit_rows(events), filename)
