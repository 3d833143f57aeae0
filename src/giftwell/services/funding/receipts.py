"""Receipts: one per posted money movement on a funding source (a charge for cards issued, a
refund for cards cancelled, a settlement of a credit line, a top-up), written by `record` in the
transaction that posts the transfer, so a committed movement always has its receipt and a rolled
back one never does. The lines say what was paid for and sum to the amount.

Reads for the API and the dashboard: `get`, `list_receipts`, and `render_html`, the printable
page (Jinja2, autoescaped).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from giftwell.domain.errors import NotFound, ValidationFailed
from giftwell.domain.funding import Line, ReceiptKind, lines_total
from giftwell.domain.ids import new_id
from giftwell.domain.ledger import Transfer
from giftwell.domain.money import to_major
from giftwell.services.currencies import currency as check_currency
from giftwell.services.pagination import Page, newest_first, paginate
from giftwell.store.models import Account
from giftwell.store.models import Receipt as ReceiptRow
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Receipt:
    id: str
    account_id: str
    funding_source_id: str
    kind: ReceiptKind
    transfer_id: str
    order_id: str | None
    currency: str
    amount: int
    lines: list[dict[str, Any]]
    reference: str | None
    created_at: datetime

    @property
    def signed_amount(self) -> int:
        """The receipt's effect on its source: negative for a charge."""
        return self.kind.sign * self.amount


def _receipt(r: Any) -> Receipt:
    return Receipt(
        id=r.id,
        account_id=r.account_id,
        funding_source_id=r.funding_source_id,
        kind=ReceiptKind(r.kind),
        transfer_id=r.transfer_id,
        order_id=r.order_id,
        currency=r.currency,
        amount=int(r.amount),
        lines=list(r.lines),
        reference=r.reference,
        created_at=r.created_at,
    )


async def record(
    uow: UnitOfWork,
    *,
    account_id: str,
    funding_source_id: str,
    kind: ReceiptKind,
    transfer: Transfer,
    lines: list[Line],
    order_id: str | None = None,
    reference: str | None = None,
) -> Receipt:
    """The receipt of `transfer`, a posted movement on the source; a step of the transaction that
    posted it. Its lines must sum to the transfer's amount (a bug otherwise: it raises)."""
    if lines_total(lines) != transfer.amount:
        raise AssertionError(f"receipt lines sum to {lines_total(lines)}, the transfer moved {transfer.amount}")
    receipt_id = new_id("rcpt")
    lines_data = [line.as_dict() for line in lines]
    values: dict[str, Any] = {
        "id": receipt_id,
        "account_id": account_id,
        "funding_source_id": funding_source_id,
        "kind": kind.value,
        "transfer_id": transfer.id,
        "order_id": order_id,
        "currency": transfer.currency,
        "amount": transfer.amount,
        "lines": lines_data,
        "reference": reference,
        "created_at": uow.now,
    }
    await uow.conn.execute(sa.insert(ReceiptRow).values(**values))
    return Receipt(
        id=receipt_id,
        account_id=account_id,
        funding_source_id=funding_source_id,
        kind=kind,
        transfer_id=transfer.id,
        order_id=order_id,
        currency=transfer.currency,
        amount=transfer.amount,
        lines=lines_data,
        reference=reference,
        created_at=uow.now,
    )


async def get(uow: UnitOfWork, *, account_id: str, receipt_id: str) -> Receipt:
    row = (
        await uow.conn.execute(
            sa.select(ReceiptRow).where(ReceiptRow.id == receipt_id, ReceiptRow.account_id == account_id)
        )
    ).first()
    if row is None:
        raise NotFound("no such receipt", param="receipt")
    return _receipt(row)


async def list_receipts(
    uow: UnitOfWork,
    *,
    account_id: str,
    order_id: str | None = None,
    funding_source_id: str | None = None,
    kind: ReceiptKind | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[Receipt]:
    """The account's receipts, newest first, optionally for one order, source or kind."""
    q = sa.select(ReceiptRow).where(ReceiptRow.account_id == account_id)
    if order_id is not None:
        q = q.where(ReceiptRow.order_id == order_id)
    if funding_source_id is not None:
        q = q.where(ReceiptRow.funding_source_id == funding_source_id)
    if kind is not None:
        q = q.where(ReceiptRow.kind == kind.value)
    sort = newest_first(ReceiptRow.created_at, ReceiptRow.id)
    return await paginate(uow, q, sort=sort, limit=limit, cursor=cursor, convert=_receipt)


async def first_charge(uow: UnitOfWork, *, account_id: str, order_id: str) -> str | None:
    """The id of an order's first charge receipt (None before a card of it was charged)."""
    found = await uow.conn.scalar(
        sa.select(ReceiptRow.id)
        .where(
            ReceiptRow.account_id == account_id,
            ReceiptRow.order_id == order_id,
            ReceiptRow.kind == ReceiptKind.CHARGE.value,
        )
        .order_by(ReceiptRow.created_at, ReceiptRow.id)
        .limit(1)
    )
    return None if found is None else str(found)


TITLES = {
    ReceiptKind.CHARGE: "Receipt",
    ReceiptKind.REFUND: "Refund receipt",
    ReceiptKind.SETTLEMENT: "Payment received",
    ReceiptKind.TOP_UP: "Funds received",
}


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _money(amount: int, currency: str) -> str:
    return f"{to_major(amount, check_currency(currency)):,} {currency}"


async def render_html(uow: UnitOfWork, receipt: Receipt) -> str:
    """The printable receipt: who paid, for what, how much, in which currency."""
    name = await uow.conn.scalar(sa.select(Account.name).where(Account.id == receipt.account_id))
    if name is None:  # pragma: no cover - a receipt's account always exists
        raise ValidationFailed("receipt without an account", param="receipt")
    lines = [
        {
            **line,
            "unit_text": _money(line["unit_amount"], receipt.currency),
            "amount_text": _money(line["amount"], receipt.currency),
            "face_text": _money(line["face_value"], receipt.currency) if line.get("face_value") else None,
        }
        for line in receipt.lines
    ]
    return (
        _env()
        .get_template("receipt.html")
        .render(
            r=receipt,
            title=TITLES[receipt.kind],
            account_name=name,
            lines=lines,
            total=_money(receipt.amount, receipt.currency),
            issued=receipt.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
    )
