"""The order webhook body exactly as WizzGift sends it (seed 000):

    {"id", "referenceId", "status", "orderedQuantity", "redeemInfos": [{"link", "rewardId",
     "instruction", "pin", "code", "serial", "transactionId", "expiryDate", "status"}]}

`status` is `completed`, `failed` or `partial` for the order and `completed` or `failed` for each
card. "Depending on the gift card provider, some fields may be present while others might be
absent": a field we have no value for is left out, never sent as null; `status` always is there.
Our names map as: `rewardId` the order card (`oc_...`), `transactionId` the card (`card_...`, or
for a card an upstream supplier made, the upstream's `transactionId`),
`instruction` the product's redemption instructions (for a card an upstream supplier made, the
upstream's own for that card when it gave one), `expiryDate` the card's expiry (YYYY-MM-DD).
"""

from __future__ import annotations

from typing import Any

from giftwell.services.orders.views import CardView, OrderView
from giftwell.services.webhooks.bodies import EventBody

# A card cancelled after the order ended is no longer a card the buyer holds.
_CARD_STATUS = {"issued": "completed"}


def redeem_info(card: CardView, instruction: str) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if card.status == "issued":
        fields = {
            "link": card.link,
            "rewardId": card.id,
            "instruction": card.upstream_instruction or instruction or None,
            "pin": card.pin,
            "code": card.code,
            "serial": card.serial,
            "transactionId": card.card_id or card.upstream_transaction_id,
            "expiryDate": card.expires_at.date().isoformat() if card.expires_at else None,
        }
        info = {k: v for k, v in fields.items() if v is not None}
    else:
        info = {"rewardId": card.id}
    info["status"] = _CARD_STATUS.get(card.status, "failed")
    return info


def order_body(order: OrderView, instructions: dict[str, str]) -> dict[str, Any]:
    return {
        "id": order.id,
        "referenceId": order.reference,
        "status": order.status.value,
        "orderedQuantity": order.card_count,
        "redeemInfos": [
            redeem_info(card, instructions.get(item.product or "", ""))
            for item in order.items or []
            for card in item.cards
        ],
    }


def order_event_body(event: EventBody) -> dict[str, Any]:
    """The body for an order result event (`order.completed`, `order.failed`, `order.partial`):
    the order as it is now, with its codes. The event says which result this is; the order may
    have moved on since (cancelled cards)."""
    if event.order is None:  # registered with shows_order: never for an order result event
        raise ValueError(f"the wizzgift body of {event.type} needs its order")
    body = order_body(event.order, event.instructions)
    body["status"] = str(event.data.get("status", body["status"]))
    return body
