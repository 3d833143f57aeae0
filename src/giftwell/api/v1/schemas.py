"""Request and response shapes of the native API (separate from the table models)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
)

from giftwell.domain.cards import Card, CardStatus, Party
from giftwell.domain.ledger import Transfer
from giftwell.domain.money import MAX_AMOUNT
from giftwell.services.cards.money import MAX_HOLD_TTL, Movement

Amount = Annotated[
    StrictInt, Field(le=MAX_AMOUNT, description="Integer amount in the currency's minor units (cents for EUR).")
]


def _utc(value: datetime) -> datetime:
    # Converted here, while it is still input: 9999-12-31T23:59:59-10:00 has no UTC form, and
    # would otherwise fail (500) when bound to a query.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("datetime is out of range once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A datetime with an explicit offset (naive ones are refused), normalised to UTC."""


_INT64 = 2**63
# orjson writes at most ~254 levels; far fewer is plenty for metadata and keeps the check cheap.
MAX_NESTING = 32


def _storable(value: Any, depth: int = 0) -> None:
    """Refuse what one of our stores or the JSON encoder cannot hold: NUL in text (PostgreSQL
    text and JSONB reject it), non-finite numbers (not JSON), and numbers past 64 bits: JSONB
    keeps them (and gives 1e300 back as a 301-digit integer), but the response encoder cannot
    write such integers. Containers may nest `MAX_NESTING` levels deep."""
    if isinstance(value, dict | list) and depth > MAX_NESTING:
        raise ValueError(f"may nest at most {MAX_NESTING} levels deep")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
    elif isinstance(value, bool) or value is None or isinstance(value, BaseModel):
        return  # a nested model checked its own fields
    elif isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise ValueError("integers must fit in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value) or not -_INT64 <= value < _INT64:
            raise ValueError("numbers must be finite and fit in 64 bits")
    elif isinstance(value, dict):
        for k, v in value.items():
            _storable(k, depth + 1)
            _storable(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _storable(v, depth + 1)


def _text(value: str) -> str:
    _storable(value)
    return value


Text = Annotated[str, AfterValidator(_text)]
"""A path or query string that can reach a query: no NUL characters."""


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _check_storable(cls, value: Any) -> Any:
        _storable(value)
        return value


class PartyIn(In):
    name: Annotated[str, Field(max_length=200)] | None = None
    email: Annotated[str, Field(max_length=320)] | None = None

    def domain(self) -> Party:
        return Party(self.name, self.email)


class CodeFormatIn(In):
    kind: Literal["alphanumeric", "numeric"] = "alphanumeric"
    length: Annotated[int, Field(ge=8, le=64)] = 16
    luhn: StrictBool = False
    prefix: Annotated[str, Field(max_length=16)] = ""
    group: Annotated[int, Field(ge=0, le=8)] = 4


class CardCreate(In):
    currency: Annotated[str, Field(description="ISO-4217 code, e.g. EUR", examples=["EUR"])]
    amount: Amount | None = Field(default=None, description="Initial value; absent or 0 creates an inactive card.")
    code: Annotated[str, Field(min_length=8, max_length=80)] | None = Field(
        default=None, description="Your own code (8-64 characters); generated when absent."
    )
    pin: str | None = None
    code_format: CodeFormatIn | None = None
    serial: Annotated[str, Field(max_length=64)] | None = None
    expires_at: UtcDatetime | None = None
    sender: PartyIn | None = None
    recipient: PartyIn | None = None
    metadata: dict[str, Any] | None = None


class LookupIn(In):
    code: Annotated[str, Field(min_length=1, max_length=100)]
    pin: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="The card's PIN; required when the card has one."
    )


class AmountIn(In):
    amount: Amount


class ReloadIn(In):
    amount: Amount
    reference: Annotated[str, Field(max_length=200)] | None = None


class RedeemIn(In):
    amount: Amount
    reference: Annotated[str, Field(max_length=200)] | None = None
    capture: StrictBool = Field(default=True, description="false: only hold the amount (a pending transfer).")
    hold_ttl_seconds: Annotated[int, Field(ge=1, le=int(MAX_HOLD_TTL.total_seconds()))] | None = Field(
        default=None, description="How long a hold lives before it is voided (default 7 days)."
    )


class TransferIn(In):
    to_card: str
    amount: Amount


class AdjustIn(In):
    amount: Annotated[
        StrictInt, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, description="Signed: positive adds value, negative removes it.")
    ]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ReasonIn(In):
    reason: Annotated[str, Field(max_length=500)] | None = None


class OptionalAmountIn(In):
    amount: Amount | None = None


class PartyOut(BaseModel):
    name: str | None
    email: str | None


class CardOut(BaseModel):
    id: str
    object: Literal["card"] = "card"
    code_last4: str
    currency: str
    initial_amount: int
    balance: int
    available: int
    status: CardStatus
    status_reason: str | None
    expires_at: datetime | None
    activated_at: datetime | None
    source: str
    test: bool
    serial: str | None
    has_pin: bool
    sender: PartyOut
    recipient: PartyOut
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Card) -> CardOut:
        # model_construct: built from our own domain objects, so validating again is pure cost.
        return cls.model_construct(
            id=c.id,
            code_last4=c.code_last4,
            currency=c.currency,
            initial_amount=c.initial_amount,
            balance=c.balance,
            available=c.available,
            status=c.status,
            status_reason=c.status_reason,
            expires_at=c.expires_at,
            activated_at=c.activated_at,
            source=c.source.value,
            test=c.test,
            serial=c.serial,
            has_pin=c.has_pin,
            sender=PartyOut.model_construct(name=c.sender.name, email=c.sender.email),
            recipient=PartyOut.model_construct(name=c.recipient.name, email=c.recipient.email),
            metadata=c.metadata,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class CardCreatedOut(CardOut):
    code: str = Field(description="The full code. Shown only in this response; store it now.")
    pin: str | None


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
        if card_ledger_account is not None:
            debit = t.debit_account_id == card_ledger_account
        else:
            debit = t.credit_balance_after is None or t.kind.value in ("redeem", "expire", "transfer")
        return cls.model_construct(
            id=t.id,
            kind=t.kind.value,
            status=t.status.value,
            amount=t.amount,
            currency=t.currency,
            balance_after=t.debit_balance_after if debit else t.credit_balance_after,
            direction="debit" if debit else "credit",
            card_id=t.card_id,
            counterparty_card_id=t.counterparty_card_id,
            hold_amount=t.hold_amount,
            expires_at=t.expires_at,
            refund_of=t.refund_of,
            refunded_amount=t.refunded_amount,
            reference=t.reference,
            reason=t.reason,
            created_at=t.created_at,
            posted_at=t.posted_at,
        )


class MovementOut(TransferOut):
    card: CardOut

    @classmethod
    def of_movement(cls, m: Movement) -> MovementOut:
        base = TransferOut.of(m.transfer, m.card.ledger_account_id)
        return cls.model_construct(**dict(base), card=CardOut.of(m.card))


class PingOut(BaseModel):
    ok: Literal[True] = True
    account: str


class CardList(BaseModel):
    data: list[CardOut]
    has_more: bool
    next_cursor: str | None


class TransferList(BaseModel):
    data: list[TransferOut]
    has_more: bool
    next_cursor: str | None
