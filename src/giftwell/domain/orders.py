"""Order states and limits.

An order is a set of units, one per card to make. Each unit goes `pending` -> `issued` or
`failed` exactly once (in the transaction that issues the card and charges its price), or first
`ordered` when an upstream supplier makes it in the background; an issued unit may later be
`cancelled` (card disabled, price returned). The order's status follows:
`pending` (accepted, nothing issued yet), `processing` (some units done), then a final
`completed` (every unit issued), `partial` (some issued, some failed), `failed` (none issued) or
`cancelled` (nothing issued remains).
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

MAX_CARDS_PER_ORDER = 10_000
# Wpay's synchronous model takes up to 10 cards; more are made in the background.
SYNC_CARD_LIMIT = 10
MAX_ITEMS_PER_ORDER = 100
MAX_MESSAGE = 500
# An order may be reversed (every card cancelled, its price refunded) this long after it was
# placed, as Wpay's reversal allows: long enough to recover from a lost response, short enough
# that its cards are unlikely to have reached anyone.
REVERSAL_WINDOW = timedelta(hours=24)


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def open(self) -> bool:
        return self in (OrderStatus.PENDING, OrderStatus.PROCESSING)


class UnitStatus(enum.StrEnum):
    """`ordered`: an upstream supplier is making its card (bought in the background); the buyer
    sees it as `pending`. Either way it is not done, and the order cannot end."""

    PENDING = "pending"
    ORDERED = "ordered"
    ISSUED = "issued"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def waiting(self) -> bool:
        return self in (UnitStatus.PENDING, UnitStatus.ORDERED)


class Mode(enum.StrEnum):
    AUTO = "auto"
    SYNC = "sync"
    ASYNC = "async"


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    NONE = "none"


# The channels by which Giftwell itself delivers an item's cards (managed fulfilment); with
# `none` (or no delivery) the buyer delivers them (self-managed).
DELIVERED = (Channel.EMAIL.value, Channel.SMS.value)


def final_status(*, issued: int, failed: int, cancelled: int) -> OrderStatus:
    """The status an order ends in once no unit is pending."""
    if issued == 0 and cancelled > 0:
        return OrderStatus.CANCELLED
    if issued + cancelled == 0:
        return OrderStatus.FAILED
    return OrderStatus.PARTIAL if failed else OrderStatus.COMPLETED


def item_status(*, pending: int, issued: int, failed: int, cancelled: int) -> str:
    """An item's status from its units' (same words as the order's)."""
    if pending:
        return OrderStatus.PROCESSING.value if issued + failed + cancelled else OrderStatus.PENDING.value
    return final_status(issued=issued, failed=failed, cancelled=cancelled).value


def sync_allowed(mode: Mode, cards: int) -> bool:
    """Whether an order of `cards` is fulfilled in the request (True) or in the background."""
    if mode is Mode.ASYNC:
        return False
    return cards <= SYNC_CARD_LIMIT


def reversible(created_at: datetime, now: datetime) -> bool:
    """Whether an order placed at `created_at` may still be reversed at `now`."""
    return now - created_at <= REVERSAL_WINDOW
