"""Funding sources and receipts: the pure rules.

A buyer pays for its orders from a *funding source*: its prepaid balance in a currency, or a
credit line the operator grants (a limit the orders draw down and payments restore). Each source
is one guarded ledger account:

- prepaid: its balance is the money paid in and not yet spent; it never goes below zero.
- credit line: its ledger balance is the credit still *unused* (the limit, less what is owed).
  Granting or changing the limit is a `credit_limit` transfer from the operator's `credit`
  system account, so the ledger always holds the limit; orders draw it down like a prepaid
  balance, and a `settle` transfer (a payment received) restores it. Shown to people, the line's
  balance is `-owed` (it goes down to minus its limit) and `owed = limit - ledger balance`.

Every posted money movement on a source (a charge, a refund, a settlement, a top-up) has exactly
one receipt, written in the transaction that posts it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.ledger import MAX_BALANCE


class SourceKind(enum.StrEnum):
    PREPAID = "prepaid"
    CREDIT_LINE = "credit_line"


class ReceiptKind(enum.StrEnum):
    CHARGE = "charge"
    REFUND = "refund"
    SETTLEMENT = "settlement"
    TOP_UP = "top_up"

    @property
    def sign(self) -> int:
        """+1 when money comes into the source, -1 when it leaves it."""
        return -1 if self is ReceiptKind.CHARGE else 1


def check_limit(limit: object, *, param: str = "limit") -> int:
    """A credit limit: an integer of minor units, 0 (no credit left to draw) up to `MAX_BALANCE`."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_BALANCE:
        raise ValidationFailed(f"{param} must be an integer from 0 to {MAX_BALANCE} minor units", param=param)
    return limit


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source's figures as people read them. `ledger_balance` and `pending_out` are its ledger
    account's; `limit` is None for a prepaid balance."""

    kind: SourceKind
    ledger_balance: int
    pending_out: int
    limit: int | None

    @property
    def owed(self) -> int | None:
        return None if self.limit is None else self.limit - self.ledger_balance

    @property
    def balance(self) -> int:
        """Prepaid: the money held. Credit line: minus what is owed (never below minus the limit)."""
        owed = self.owed
        return self.ledger_balance if owed is None else -owed

    @property
    def available(self) -> int:
        """What an order may still reserve: the ledger balance less open reservations."""
        return self.ledger_balance - self.pending_out


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a receipt: what was bought or returned (a product's cards of one face value, for
    an order item), how many, at what unit amount."""

    description: str
    amount: int
    quantity: int = 1
    unit_amount: int | None = None
    product: str | None = None
    item: str | None = None
    face_value: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "product": self.product,
            "item": self.item,
            "face_value": self.face_value,
            "quantity": self.quantity,
            "unit_amount": self.amount if self.unit_amount is None else self.unit_amount,
            "amount": self.amount,
        }


def lines_total(lines: list[Line]) -> int:
    return sum(line.amount for line in lines)
