"""Funding sources and receipts as the native API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from giftwell.services.funding.receipts import Receipt
from giftwell.services.funding.sources import Source


class FundingSourceOut(BaseModel):
    id: str = Field(description="`fs_...`: name it as `funding_source` on an order.")
    object: Literal["funding_source"] = "funding_source"
    type: Literal["prepaid", "credit_line"]
    currency: str
    balance: int = Field(
        description="Prepaid: the money held. Credit line: minus what is owed (it goes down to minus the limit)."
    )
    available: int = Field(description="What an order may still reserve from it (open reservations deducted).")
    credit_limit: int | None = Field(description="The credit line's limit, set by the operator; null when prepaid.")
    owed: int | None = Field(
        description="What the credit line's orders cost and is not yet settled; null when prepaid."
    )
    default: bool = Field(description="Orders in this currency that name no funding source pay from this one.")
    created_at: datetime

    @classmethod
    def of(cls, s: Source) -> FundingSourceOut:
        return cls(
            id=s.id,
            type=s.kind.value,
            currency=s.currency,
            balance=s.state.balance,
            available=s.state.available,
            credit_limit=s.state.limit,
            owed=s.state.owed,
            default=s.default,
            created_at=s.created_at,
        )


class ReceiptLineOut(BaseModel):
    description: str
    product: str | None
    item: str | None = Field(description="The order item (`oi_...`) the line is for.")
    face_value: int | None = Field(description="Face value of each card of the line.")
    quantity: int
    unit_amount: int = Field(description="Price of each card (what the buyer paid or got back).")
    amount: int


class ReceiptOut(BaseModel):
    id: str = Field(description="`rcpt_...`")
    object: Literal["receipt"] = "receipt"
    kind: Literal["charge", "refund", "settlement", "top_up"]
    funding_source: str
    order: str | None
    currency: str
    amount: int = Field(description="What moved, in minor units: taken from the source (charge) or put in it.")
    lines: list[ReceiptLineOut]
    transfer: str = Field(description="The ledger transfer the receipt is for.")
    reference: str | None
    created_at: datetime

    @classmethod
    def of(cls, r: Receipt) -> ReceiptOut:
        lines: list[dict[str, Any]] = r.lines
        return cls(
            id=r.id,
            kind=r.kind.value,
            funding_source=r.funding_source_id,
            order=r.order_id,
            currency=r.currency,
            amount=r.amount,
            lines=[ReceiptLineOut(**line) for line in lines],
            transfer=r.transfer_id,
            reference=r.reference,
            created_at=r.created_at,
        )
