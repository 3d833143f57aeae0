"""Upstream suppliers: another WizzGift-compatible API (another Giftwell, say) that makes the
cards of some products. Pure rules and values, no I/O: names, the reference an order item is
bought with, the polling schedule, what an upstream answer means for our units, and the errors
an upstream call can end in.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.orders import MAX_CARDS_PER_ORDER

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")
# Built-in suppliers, never the name of an upstream one.
RESERVED_NAMES = frozenset({"house"})
REFERENCE_PREFIX = "gw-"
MAX_MESSAGE = 500
# The most cards one upstream order asks for unless the operator says otherwise. Seed 000 gives
# no limit on `quantity`; WizzGift's current API allows 1 to 25 per item (dialects.md §4.2), so
# 25 is what a WizzGift upstream is assumed to take. Another Giftwell takes up to 10,000.
DEFAULT_MAX_QUANTITY = 25


class SupplierKind(enum.StrEnum):
    WIZZGIFT = "wizzgift"


class SupplierStatus(enum.StrEnum):
    """`paused`: its credentials stopped working (a 401 after a refresh); nothing is sent to it
    until an operator gives it new ones (`giftwell suppliers update`) or resumes it."""

    ACTIVE = "active"
    PAUSED = "paused"


class PurchaseStatus(enum.StrEnum):
    """An upstream purchase (one per order item): `placing` until the upstream has acknowledged
    the order, `placed` while it makes the cards, then its result."""

    PLACING = "placing"
    PLACED = "placed"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in (PurchaseStatus.COMPLETED, PurchaseStatus.PARTIAL, PurchaseStatus.FAILED)


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name) or name in RESERVED_NAMES:
        raise ValidationFailed(
            "a supplier's name is 1 to 40 lowercase letters and digits (dashes and underscores inside), not 'house'",
            param="name",
        )
    return name


def check_kind(kind: object) -> SupplierKind:
    try:
        return SupplierKind(str(kind))
    except ValueError:
        known = ", ".join(k.value for k in SupplierKind)
        raise ValidationFailed(f"kind must be one of: {known}", param="kind") from None


def check_base_url(url: object) -> str:
    """The upstream API's base, such as `https://api.wizzgift.com/api/b2b` (no trailing slash,
    query or fragment). Plain http is the operator's choice (a supplier on a private network)."""
    if not isinstance(url, str) or len(url) > 2000:
        raise ValidationFailed("base_url must be an http(s) URL", param="base_url")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ValidationFailed("base_url must be an absolute http(s) URL without query or fragment", param="base_url")
    return url.rstrip("/")


def check_secret(value: object, param: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 2000 or value != value.strip():
        raise ValidationFailed(f"{param} must be a non-empty string without surrounding spaces", param=param)
    return value


def code_aad(unit_id: str) -> str:
    """The associated data a supplied card's code is encrypted with (its order card's id)."""
    return f"supplied-code:{unit_id}"


def pin_aad(unit_id: str) -> str:
    return f"supplied-pin:{unit_id}"


def check_max_quantity(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CARDS_PER_ORDER:
        raise ValidationFailed(
            f"max_quantity must be a whole number from 1 to {MAX_CARDS_PER_ORDER}", param="max_quantity"
        )
    return value


@dataclass(frozen=True, slots=True)
class Part:
    """One upstream order of an order item: number `number` of `parts`, for the units of index
    `first` to `first + quantity - 1`."""

    number: int
    parts: int
    size: int
    first: int
    quantity: int


def part_of(index: int, *, item_quantity: int, size: int) -> Part:
    """The upstream order that buys unit `index` of an item of `item_quantity` cards, bought
    `size` cards (at most) per upstream order."""
    if not 0 <= index < item_quantity or size < 1:
        raise ValueError("no such unit")
    number = index // size + 1
    first = (number - 1) * size
    parts = -(-item_quantity // size)
    return Part(number, parts, size, first, min(size, item_quantity - first))


def reference_for(item_id: str, part: int = 1, parts: int = 1) -> str:
    """The `referenceId` an order item (or part `part` of `parts` of it) is bought upstream with.
    Derived, never random: a retry after a crash or a timeout sends the same one, and the
    upstream answers the order it already has instead of selling the cards twice. An item bought
    in one order is `gw-<item>`; in several, `gw-<item>-1`, `gw-<item>-2`, ..."""
    return REFERENCE_PREFIX + item_id + (f"-{part}" if parts > 1 else "")


def poll_delay(polls: int, *, base: float, cap: float) -> float:
    """How long to wait before poll number `polls + 1` of an order the upstream is still making:
    base, then doubling, at most cap."""
    return min(cap, base * float(2 ** min(polls, 30)))


# -- what an upstream says -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpstreamCard:
    """One entry of an upstream order's `redeemInfos`: every field but `status` may be absent."""

    status: str
    code: str | None = None
    pin: str | None = None
    serial: str | None = None
    link: str | None = None
    reward_id: str | None = None
    transaction_id: str | None = None
    expiry_date: date | None = None
    instruction: str | None = None

    @property
    def completed(self) -> bool:
        return self.status == "completed"


@dataclass(frozen=True, slots=True)
class UpstreamOrder:
    id: str
    reference_id: str
    status: str  # completed, failed or partial when done; anything else: still being made
    ordered_quantity: int | None = None
    cards: tuple[UpstreamCard, ...] = ()

    @property
    def final(self) -> PurchaseStatus | None:
        try:
            status = PurchaseStatus(self.status)
        except ValueError:
            return None
        return status if status.final else None


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    expires_in: int
    refresh_token: str | None = None


@dataclass(frozen=True, slots=True)
class UpstreamSku:
    min: object
    max: object
    change_step: object | None = None


@dataclass(frozen=True, slots=True)
class UpstreamField:
    id: str
    name: str
    type: str = "input"
    description: str = ""
    required: bool = True
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UpstreamProduct:
    id: str
    name: str
    currency: str
    skus: tuple[UpstreamSku, ...] = ()
    fields: tuple[UpstreamField, ...] = ()
    description: str = ""
    disclosure: str = ""
    instruction: str = ""
    image: str | None = None
    countries: tuple[str, ...] = ()
    categories: tuple[str, ...] = field(default_factory=tuple)


def outcomes(order: UpstreamOrder, units: int) -> list[UpstreamCard | None]:
    """Our `units` (in their order) matched with the upstream's cards (in theirs): the card for
    each unit it made, None for each it did not (a failed entry, or none at all). A `failed`
    order fails every unit, whatever its entries say."""
    if order.final is PurchaseStatus.FAILED:
        return [None] * units
    cards = list(order.cards[:units]) + [None] * max(0, units - len(order.cards))
    return [c if c is not None and c.completed else None for c in cards]


class UpstreamError(Exception):
    """An upstream call that did not succeed. `message` is the upstream's own, when it gave one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message[:MAX_MESSAGE])
        self.message = message[:MAX_MESSAGE]
        self.status = status


class UpstreamUnavailable(UpstreamError):
    """5xx, a timeout, a refused connection, an answer we cannot read: try again later."""


class UpstreamRefused(UpstreamError):
    """A 4xx other than 401: the upstream will not do it; trying again will not help."""


class UpstreamUnauthorized(UpstreamError):
    """401: the credentials we sent are not (or no longer) good."""


class SupplierPaused(Exception):
    """The supplier is paused (its credentials failed): nothing is sent until an operator acts."""
