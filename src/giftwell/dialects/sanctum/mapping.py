"""Giftwell cards in the Giftcards B2B wire format, and the JSON that carries them.

Amounts on the wire are major units (50 is 50.00 EUR); `balance_factor` is 10**exponent. A
balance is written as the exact decimal text, integral ones without a point (50, 40.5, 39.75),
so no amount ever passes through a float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import Response

from giftwell.domain.cards import Card, CardStatus
from giftwell.domain.money import decimal_text, to_major
from giftwell.services.currencies import currency

# "Normal" is the vendor's word for a usable card (the seed's only example); the others name
# Giftwell's states in the same style.
STATUS: dict[CardStatus, str] = {
    CardStatus.ACTIVE: "Normal",
    CardStatus.INACTIVE: "Inactive",
    CardStatus.BLOCKED: "Blocked",
    CardStatus.DISABLED: "Disabled",
    CardStatus.EXPIRED: "Expired",
}


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(decimal_text(value).encode())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body, default=_default), status_code=status, media_type="application/json")


def major(amount: int, currency_code: str) -> Decimal:
    return to_major(amount, currency(currency_code))


def giftcard(card: Card, *, code: str, brand: str) -> dict[str, Any]:
    """The vendor's card object. `code` is the code the caller sent (Giftwell stores only a hash
    of it); `balance` is what can be spent now, the posted balance less any holds."""
    cur = currency(card.currency)
    ean = card.metadata.get("ean")
    return {
        "code": code,
        "status": STATUS[card.status],
        "brand_name": brand,
        "ean": ean if isinstance(ean, str) else None,
        "currency": card.currency,
        "balance": to_major(card.available, cur),
        "balance_factor": cur.factor,
        "activated": card.activated_at is not None,
        "blocked": card.status is CardStatus.BLOCKED,
        "handled": True,
    }


def unknown_giftcard(code: str) -> dict[str, Any]:
    """What retrieve shows for a code this account does not have."""
    return {"code": code, "handled": False, "activated": False, "blocked": False, "status": None}
