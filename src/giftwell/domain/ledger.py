"""Double-entry posting rules.

Every movement of money is a transfer of a positive amount from one ledger account (debited)
to another (credited) in one currency. Balances are signed sums of transfers, so the accounts of
a currency always sum to zero. Card and funding accounts may never go below zero, counting
pending holds; system accounts (issuance, redemption, breakage, adjustment, funding source) are
the other side of every entry and may go negative.

Which system account stands opposite a card for each kind of transfer is a pure function here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.money import MAX_AMOUNT

# The most a guarded account (a card, a funding balance) may hold: one operation's maximum. Far
# below the signed 64-bit column, so no run of credits can overflow it.
MAX_BALANCE = MAX_AMOUNT


class AccountKind(enum.StrEnum):
    CARD = "card"
    FUNDING = "funding"
    ISSUANCE = "issuance"
    REDEMPTION = "redemption"
    BREAKAGE = "breakage"
    ADJUSTMENT = "adjustment"
    FUNDING_SOURCE = "funding_source"
    SALES = "sales"
    # A buyer's credit line: the credit still unused (see domain/funding.py).
    CREDIT_LINE = "credit_line"
    # The operator's side of every credit limit granted: minus the sum of all limits.
    CREDIT = "credit"
    # A choice reward link's value, not yet picked (one account per link, like a card's).
    CHOICE_LINK = "choice_link"

    @property
    def guarded(self) -> bool:
        """Guarded accounts keep a running balance that may never go below zero."""
        return self in (AccountKind.CARD, AccountKind.FUNDING, AccountKind.CREDIT_LINE, AccountKind.CHOICE_LINK)


# Kinds with one ledger account per thing (a card, a link) rather than one per account and
# currency: the partial unique index on ledger_accounts leaves them out.
PER_OBJECT_KINDS_SQL = "kind NOT IN ('card', 'choice_link')"


class TransferKind(enum.StrEnum):
    ACTIVATE = "activate"
    RELOAD = "reload"
    REDEEM = "redeem"
    REFUND = "refund"
    EXPIRE = "expire"
    ADJUST = "adjust"
    TRANSFER = "transfer"
    FUND = "fund"
    CHARGE = "charge"
    # A credit line's limit granted, raised or lowered (the operator's credit account opposite).
    CREDIT_LIMIT = "credit_limit"
    # A payment received against a credit line, restoring what the buyer may draw.
    SETTLE = "settle"
    # A choice reward link valued (the operator's issuance account opposite) when its order
    # unit is fulfilled, and a recipient's pick paid from it back to that account (the card
    # itself is valued from its issuer's issuance account, as every card).
    CHOICE_FUND = "choice_fund"
    CHOICE_PICK = "choice_pick"
    # A choice link never picked, cancelled with its order: its value back to issuance.
    CHOICE_CANCEL = "choice_cancel"


class TransferStatus(enum.StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


class Side(enum.Enum):
    DEBIT = "debit"
    CREDIT = "credit"


@dataclass(frozen=True, slots=True)
class CardPosting:
    """Where the card sits in a transfer of `kind` and which system account is opposite."""

    card_side: Side
    system: AccountKind


_CARD_POSTINGS: dict[TransferKind, CardPosting] = {
    TransferKind.ACTIVATE: CardPosting(Side.CREDIT, AccountKind.ISSUANCE),
    TransferKind.RELOAD: CardPosting(Side.CREDIT, AccountKind.ISSUANCE),
    TransferKind.REDEEM: CardPosting(Side.DEBIT, AccountKind.REDEMPTION),
    TransferKind.REFUND: CardPosting(Side.CREDIT, AccountKind.REDEMPTION),
    TransferKind.EXPIRE: CardPosting(Side.DEBIT, AccountKind.BREAKAGE),
}


def card_posting(kind: TransferKind, *, signed_amount: int | None = None) -> CardPosting:
    """The posting rule for a card transfer of `kind`. Adjustments take their side from the sign."""
    if kind is TransferKind.ADJUST:
        if not signed_amount:
            raise ValidationFailed("adjustment amount must be non-zero", param="amount")
        side = Side.CREDIT if signed_amount > 0 else Side.DEBIT
        return CardPosting(side, AccountKind.ADJUSTMENT)
    try:
        return _CARD_POSTINGS[kind]
    except KeyError:
        raise ValueError(f"{kind} is not a card posting") from None


def require_positive(amount: int, *, param: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationFailed(f"{param} must be an integer number of minor units", param=param)
    if amount <= 0:
        raise ValidationFailed(f"{param} must be greater than zero", param=param)
    if amount > MAX_AMOUNT:
        raise ValidationFailed(f"{param} may be at most {MAX_AMOUNT}", param=param)
    return amount


def partial_capture(hold_amount: int, requested: int | None) -> int:
    """The amount a capture posts: all of the hold, or part of it (the rest is released)."""
    if requested is None:
        return hold_amount
    require_positive(requested)
    if requested > hold_amount:
        raise ValidationFailed(f"capture amount exceeds the held amount ({hold_amount})", param="amount")
    return requested


def refundable(redeemed: int, already_refunded: int, requested: int | None) -> int:
    """The amount a refund returns; never more than was redeemed and not yet refunded."""
    left = redeemed - already_refunded
    amount = left if requested is None else require_positive(requested)
    if left <= 0:
        raise ValidationFailed("nothing left to refund on this transfer", param="amount")
    if amount > left:
        raise ValidationFailed(f"refund exceeds the refundable amount ({left})", param="amount")
    return amount


@dataclass(frozen=True, slots=True)
class Transfer:
    """A transfer as the services see it (`debit_*`/`credit_*` balances are after the transfer;
    None on a system account, whose balance is derived from its transfers)."""

    id: str
    account_id: str
    kind: TransferKind
    status: TransferStatus
    currency: str
    amount: int
    debit_account_id: str
    credit_account_id: str
    card_id: str | None
    counterparty_card_id: str | None
    debit_balance_after: int | None
    credit_balance_after: int | None
    hold_amount: int | None
    expires_at: datetime | None
    refund_of: str | None
    refunded_amount: int
    reference: str | None
    reason: str | None
    created_at: datetime
    posted_at: datetime | None
