"""Card states and the transitions between them.

`inactive` (created without value) -> `active` by activation. `blocked` is temporary (fraud
suspicion) and returns to where it came from; `disabled` and `expired` are final. Which
operations each state admits is one table, `require_usable`, so the API and every dialect agree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from giftwell.domain.errors import (
    CardBlocked,
    CardDisabled,
    CardError,
    CardExpired,
    CardInactive,
    InvalidState,
)


class CardStatus(enum.StrEnum):
    INACTIVE = "inactive"
    ACTIVE = "active"
    BLOCKED = "blocked"
    DISABLED = "disabled"
    EXPIRED = "expired"


class CardSource(enum.StrEnum):
    MANUAL = "manual"
    ORDER = "order"
    IMPORT = "import"


class CardAction(enum.StrEnum):
    ACTIVATE = "activate"
    BLOCK = "block"
    UNBLOCK = "unblock"
    DISABLE = "disable"
    EXPIRE = "expire"


TRANSITIONS: dict[CardAction, dict[CardStatus, CardStatus | None]] = {
    # None as target: "back to where it was before blocking", resolved by `next_status`.
    CardAction.ACTIVATE: {CardStatus.INACTIVE: CardStatus.ACTIVE},
    CardAction.BLOCK: {CardStatus.ACTIVE: CardStatus.BLOCKED, CardStatus.INACTIVE: CardStatus.BLOCKED},
    CardAction.UNBLOCK: {CardStatus.BLOCKED: None},
    CardAction.DISABLE: {
        CardStatus.INACTIVE: CardStatus.DISABLED,
        CardStatus.ACTIVE: CardStatus.DISABLED,
        CardStatus.BLOCKED: CardStatus.DISABLED,
    },
    CardAction.EXPIRE: {
        CardStatus.INACTIVE: CardStatus.EXPIRED,
        CardStatus.ACTIVE: CardStatus.EXPIRED,
        CardStatus.BLOCKED: CardStatus.EXPIRED,
    },
}


# The states a card leaves for `expired` once its date passes. Cards in them are "live": their
# code still finds them (the N of the guessing odds).
EXPIRABLE: frozenset[CardStatus] = frozenset(TRANSITIONS[CardAction.EXPIRE])


# A card in one of these is not sent, and its reward page shows nothing (a blocked card may
# return; the page says so without its code).
WITHHELD: frozenset[CardStatus] = frozenset({CardStatus.BLOCKED, CardStatus.DISABLED, CardStatus.EXPIRED})


def past_date(expires_at: datetime | None, now: datetime) -> bool:
    """A card is past its date from `expires_at` on (the instant itself included)."""
    return expires_at is not None and expires_at <= now


def is_due(status: CardStatus, expires_at: datetime | None, now: datetime) -> bool:
    """Due to expire: past its date and still in a state that expiry ends."""
    return status in EXPIRABLE and past_date(expires_at, now)


def next_status(action: CardAction, current: CardStatus, *, was_activated: bool) -> CardStatus:
    """The state after `action`, or `InvalidState` (or the card error for that state)."""
    table = TRANSITIONS[action]
    if current not in table:
        if action is CardAction.ACTIVATE and current is CardStatus.ACTIVE:
            raise InvalidState("card is already active", param="card")
        raise_for_status(current, None, wanted=action.value)
        raise InvalidState(f"cannot {action.value} a card that is {current.value}", param="card")
    target = table[current]
    if target is None:
        return CardStatus.ACTIVE if was_activated else CardStatus.INACTIVE
    return target


def allowed_sources(action: CardAction) -> frozenset[CardStatus]:
    return frozenset(TRANSITIONS[action])


def raise_for_status(
    status: CardStatus, expires_at: datetime | None, *, now: datetime | None = None, wanted: str
) -> None:
    """Raise the card error explaining why a card in `status` cannot take money movements."""
    if status is CardStatus.DISABLED:
        raise CardDisabled("card is disabled", param="card")
    if status is CardStatus.EXPIRED or (now is not None and past_date(expires_at, now)):
        raise CardExpired("card has expired", param="card")
    if status is CardStatus.BLOCKED:
        raise CardBlocked("card is blocked", param="card")
    if status is CardStatus.INACTIVE and wanted != CardAction.ACTIVATE.value:
        raise CardInactive("card is not active", param="card")


def require_usable(status: CardStatus, expires_at: datetime | None, now: datetime) -> None:
    """Money may move on a card only when it is active and not past its expiry."""
    raise_for_status(status, expires_at, now=now, wanted="use")
    if status is not CardStatus.ACTIVE:  # pragma: no cover - every other state raised above
        raise CardError(f"card is {status.value}", param="card")


@dataclass(frozen=True, slots=True)
class Party:
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Card:
    """A card as the services see it. `balance` is posted; `available` is balance minus holds.
    The code itself is not here: only `code_last4`."""

    id: str
    account_id: str
    ledger_account_id: str
    code_last4: str
    currency: str
    initial_amount: int
    balance: int
    available: int
    status: CardStatus
    status_reason: str | None
    activated_at: datetime | None
    expires_at: datetime | None
    source: CardSource
    test: bool
    serial: str | None
    has_pin: bool
    sender: Party
    recipient: Party
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None = None
