"""Giftwell's orders, links and products in WeGift's shapes (seed 002, dialects.md 1.3 to 1.5).

Ids: Giftwell's ids with the vendor's prefixes in place of ours (`ord_X` is `O-X`, an item
`oi_X` is `E-X`, a link `sl_X` is `SL-X`, the link's unit `oc_X` is `OIT-X`, the account
`acct_X` is `C-X`), so each maps back without a table. Amounts are JSON numbers in major units,
exact (`decimal_json`), as the seed shows them. Order times are written as the seed's
(`2022-09-13T11:54:27.383022+00:00`), link times as its links (`2022-09-13T12:57:21.352Z`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from giftwell.domain.catalog import Product
from giftwell.domain.errors import NotFound
from giftwell.domain.money import to_major
from giftwell.services.currencies import currency as check_currency
from giftwell.services.delivery.choice import LinkView
from giftwell.services.delivery.choice_sending import LinkDelivery
from giftwell.services.orders.link_orders import LinkOrder

PREFIXES = {"ord": "O", "oi": "E", "sl": "SL", "oc": "OIT", "acct": "C"}
NATIVE = {v: k for k, v in PREFIXES.items()}


def wire_id(native: str) -> str:
    prefix, _, body = native.partition("_")
    return f"{PREFIXES[prefix]}-{body}"


def native_id(wire: str, kind: str, *, param: str = "id") -> str:
    """`O-X` back to `ord_X`; anything else is `NotFound` (an id this dialect never gave)."""
    prefix, sep, body = wire.partition("-")
    if not sep or prefix != PREFIXES[kind] or not body or len(body) > 40 or not body.isalnum():
        raise NotFound(f"no such {'order' if kind == 'ord' else kind}", param=param)
    return f"{kind}_{body}"


def _major(amount: int, currency: str) -> Decimal:
    return to_major(amount, check_currency(currency))


def _order_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _link_time(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _values(count: int, price: int, value: int, currency: str) -> dict[str, Any]:
    return {"link_count": count, "total_price": _major(price, currency), "total_value": _major(value, currency)}


def order(o: LinkOrder) -> dict[str, Any]:
    v = o.order
    cur = v.currency
    items = v.items or []
    links = [link for item in items for link in o.links.get(item.id, [])]
    offered = {p for item in items for p in (item.choice or {}).get("products", [])}
    final = None
    if not v.status.open:
        issued = sum(i.counts.get("issued", 0) for i in items)
        final = _values(issued, v.charged - v.refunded, sum(link.initial_balance for link in links), cur)
    return {
        "description": None,
        "customer_id": wire_id(o.account_id),
        "id": wire_id(v.id),
        "user_id": None,
        "created_at": _order_time(v.created_at),
        "is_complete": not v.status.open,
        "card_payment_id": o.receipt_id,
        "currency": cur,
        "countries": sorted({i.country for i in items if i.country}),
        "initial_values": _values(v.card_count, v.total_price, v.total_face_value, cur),
        "final_values": final,
        "product_count": len(offered),
        "customer_name": o.customer_name,
        "customisation": None,
        "items": [_item(o, i) for i in items],
        "card_payment_details": None,
    }


def _email(item: Any) -> str | None:
    if (item.delivery or {}).get("channel") != "email":
        return None
    return (item.recipient or {}).get("email")


def _item(o: LinkOrder, item: Any) -> dict[str, Any]:
    cur = o.order.currency
    tokens = [wire_id(link.unit_id) for link in o.links.get(item.id, [])]
    return {
        "id": wire_id(item.id),
        "order_id": wire_id(o.order.id),
        "country": item.country,
        "currency": cur,
        "face_value": _major(item.amount, cur),
        "price": _major(item.price, cur),
        "delivery_email": _email(item),
        "current_token": tokens[-1] if tokens else None,
        "tokens": tokens,
    }


def links(o: LinkOrder) -> list[dict[str, Any]]:
    out = []
    for item in o.order.items or []:
        for link in o.links.get(item.id, []):
            out.append(_link(o, item, link, o.deliveries.get(link.id, [])))
    return out


def _link(o: LinkOrder, item: Any, link: LinkView, sent: list[LinkDelivery]) -> dict[str, Any]:
    cur = link.currency
    return {
        "id": wire_id(item.id),
        "order_item_token_id": wire_id(link.unit_id),
        "order_id": wire_id(o.order.id),
        "currency": cur,
        "face_value": _major(item.amount, cur),
        "price": _major(item.price, cur),
        "token_created_at": _link_time(link.created_at),
        "first_clicked_at": _link_time(link.first_opened_at),
        "last_clicked_at": _link_time(link.last_opened_at),
        "token_url": link.url,
        "select_link_id": wire_id(link.id),
        "select_link": {
            "id": wire_id(link.id),
            "currency": cur,
            "initial_balance": _major(link.initial_balance, cur),
            "unspent_balance": _major(link.unspent_balance, cur),
        },
        "delivery_email": _email(item),
        "deliveries": [
            {
                "id": n,
                "order_item_id": wire_id(item.id),
                "email_address": d.to,
                "queued_at": _link_time(d.queued_at),
            }
            for n, d in enumerate(sent, start=1)
        ],
    }


def product(p: Product) -> dict[str, Any]:
    d = p.denominations
    out: dict[str, Any] = {"code": p.id, "name": p.name, "image_url": p.image_url, "currency": p.currency}
    if d.values:
        out["denomination_type"] = "fixed"
        out["available_denominations"] = [_major(v, p.currency) for v in d.values]
    else:
        assert d.min is not None
        assert d.max is not None
        out["denomination_type"] = "open"
        out["minimum_value"] = _major(d.min, p.currency)
        out["maximum_value"] = _major(d.max, p.currency)
    return out
