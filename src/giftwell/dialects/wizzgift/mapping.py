"""Giftwell's products and orders in WizzGift's shapes (seed 000). Pure: no I/O.

Amounts are major units of the product's currency, written as exact JSON numbers (`Decimal`,
never a float): 5000 USD cents is `50`, 1050 is `10.5`.

Products:
- `skus`: a range product has one sku `{min, max, minCost, changeStep}`, `changeStep` its step
  (no step: one minor unit); a product of fixed values has one sku per value, `min` = `max`,
  without `changeStep`. `minCost` is what a card of `min` costs the buyer (our price rule);
  `description` is the product's name.
- `fee`: the product's flat fee per card, major units (0 without one).
- `currencyCode` and `costCurrency` are both the product's currency: the buyer pays in it.
- `image` is "" without one; `instruction` (the redemption instructions) comes after the
  seed's fields, as WizzGift's current API has it.

Orders (`GET /order`): the webhook body (`webhook.order_body`) with the first item's `amount` and
`productId` and the order's card count as `quantity`, in the seed's member order. An order still
being fulfilled is `pending` or `processing` (WizzGift's current API has both words), and its
`redeemInfos` list only the cards already finished; a cancelled order is `failed`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from giftwell.dialects.wizzgift.webhook import order_body
from giftwell.domain.catalog import Product
from giftwell.domain.money import to_major
from giftwell.services.currencies import currency
from giftwell.services.orders.by_reference import Shown

FINISHED = frozenset({"issued", "failed", "cancelled"})


def _major(amount: int, code: str) -> Decimal:
    return to_major(amount, currency(code))


def skus(p: Product) -> list[dict[str, Any]]:
    d, cur = p.denominations, p.currency
    if d.values:
        return [
            {"min": _major(v, cur), "max": _major(v, cur), "minCost": _major(p.price.price(v), cur)} for v in d.values
        ]
    assert d.min is not None
    assert d.max is not None
    return [
        {
            "min": _major(d.min, cur),
            "max": _major(d.max, cur),
            "minCost": _major(p.price.price(d.min), cur),
            "changeStep": _major(d.step or 1, cur),
            "description": p.name,
        }
    ]


def product(p: Product) -> dict[str, Any]:
    return {
        "id": p.id,
        "description": p.description,
        "disclosure": p.disclosure,
        "name": p.name,
        "image": p.image_url or "",
        "skus": skus(p),
        "currencyCode": p.currency,
        "costCurrency": p.currency,
        "countries": list(p.countries),
        "category": list(p.categories),
        "requiredInfoFromUser": [
            {
                "id": f.id,
                "name": f.name,
                "type": f.type.value,
                "description": f.description,
                "required": f.required,
                "selectValues": list(f.options),
            }
            for f in p.required_fields
        ],
        "fee": _major(p.price.fee, p.currency),
        "instruction": p.redemption_instructions,
    }


def created(order_id: str, reference: str) -> dict[str, Any]:
    return {
        "success": True,
        "message": "Order created successfully",
        "data": {"id": order_id, "referenceId": reference},
    }


def order(shown: Shown) -> dict[str, Any]:
    o = shown.order
    body = order_body(o, shown.instructions)
    infos = body["redeemInfos"]
    if o.status.open:
        # Only finished cards: a seed client reads every entry as completed or failed.
        cards = [c for item in o.items or [] for c in item.cards]
        infos = [info for info, c in zip(infos, cards, strict=True) if c.status in FINISHED]
    status = "failed" if o.status.value == "cancelled" else o.status.value
    first = o.items[0] if o.items else None
    return {
        "id": body["id"],
        "referenceId": body["referenceId"],
        "amount": _major(first.amount, o.currency) if first else Decimal(0),
        "quantity": o.card_count,
        "productId": first.product if first else "",
        "status": status,
        "orderedQuantity": body["orderedQuantity"],
        "redeemInfos": infos,
    }
