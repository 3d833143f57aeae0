"""Transfers as the native API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
)

from giftwell.api.v1.schemas.cards import CardOut, card_json
from giftwell.domain.ledger import Transfer
from giftwell.services.cards.money import Movement


class TransferOut(BaseModel):
    id: str
    object: Literal["transfer"] = "transfer"
    kind: str
    status: str
    amount: int
    currency: str
    balance_after: int | None = Field(description="The card's posted balance right after this transfer.")
    direction: Literal["debit", "credit"] | None = Field(description="Whether the card was debited or credited.")
    card_id: str | None
    counterparty_card_id: str | None
    hold_amount: int | None
    expires_at: datetime | None
    refund_of: str | None
    refunded_amount: int
    reference: str | None
    reason: str | None
    created_at: datetime
    posted_at: datetime | None

    @classmethod
    def of(cls, t: Transfer, card_ledger_account: str | None = None) -> TransferOut:
        return cls.model_construct(**transfer_json(t, card_ledger_account))


class MovementOut(TransferOut):
    card: CardOut

    @classmethod
    def of_movement(cls, m: Movement) -> MovementOut:
        return cls.model_construct(**transfer_json(m.transfer, m.card.ledger_account_id), card=CardOut.of(m.card))


def transfer_json(t: Transfer, card_ledger_account: str | None = None) -> dict[str, Any]:
    """`TransferOut.of` as the plain dict its JSON is (see `card_json`)."""
    if card_ledger_account is not None:
        debit = t.debit_account_id == card_ledger_account
    else:
        debit = t.credit_balance_after is None or t.kind.value in ("redeem", "expire", "transfer")
    return {
        "id": t.id,
        "object": "transfer",
        "kind": t.kind.value,
        "status": t.status.value,
        "amount": t.amount,
        "currency": t.currency,
        "balance_after": t.debit_balance_after if debit else t.credit_balance_after,
        "direction": "debit" if debit else "credit",
        "card_id": t.card_id,
        "counterparty_card_id": t.counterparty_card_id,
        "hold_amount": t.hold_amount,
        "expires_at": t.expires_at,
        "refund_of": t.refund_of,
        "refunded_amount": t.refunded_amount,
        "reference": t.reference,
        "reason": t.reason,
        "created_at": t.created_at,
        "posted_at": t.posted_at,
    }


def movement_json(m: Movement) -> dict[str, Any]:
    """`MovementOut.of_movement(m)` as the plain dict its JSON is (see `card_json`)."""
    return {**transfer_json(m.transfer, m.card.ledger_account_id), "card": card_json(m.card)}
