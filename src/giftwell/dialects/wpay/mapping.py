"""Between Wpay's words and Giftwell's: a Submit Order body as an `OrderRequest`, and an order as
the vendor's response body. Pure: no I/O.

What goes where (docs/dialects/wpay.md has the whole table):
- the core's fields: `clientOrderNumber` is the reference; each gift item's `productId`,
  `activationValue` (major units, converted exactly), `quantity`, `designId`, `currencyCode`; a
  `deliveryInfo` (managed fulfilment) is the item's delivery and recipient, `senderInfo` the
  sender (when `sendAsGift`), the TEXT personalisation the message and its WEB image the picture;
- the client's scalar references (`clientTransactionId`, `invoiceNumber`, `storeId`, ...) and
  each item's `clientItemId` are also metadata, so the native API finds orders by them;
- the whole body as sent is the order's and items' `vendor_data` (under `"wpay"`), amounts as
  exact decimal strings, and is echoed by the status call.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from giftwell.dialects.wpay import wire
from giftwell.dialects.wpay.wire import DeliverySchedule, GiftItem, SubmitOrder
from giftwell.domain.errors import ValidationFailed
from giftwell.domain.money import decimal_text, to_major, to_minor
from giftwell.domain.orders import DELIVERED, Mode, OrderStatus, UnitStatus
from giftwell.services.currencies import currency
from giftwell.services.orders.placing import ItemRequest, OrderRequest
from giftwell.services.orders.views import CardView, ItemView, OrderView

VENDOR = "wpay"
# Top-level strings that are also the order's metadata (searchable with metadata[key]=value).
SEARCHABLE = (
    "originalClientOrderNumber",
    "clientTransactionId",
    "invoiceNumber",
    "clientConsumerReferenceId",
    "clientCartId",
    "clientApplicationId",
    "storeId",
)
ORDER_STATUS = {
    OrderStatus.PENDING: "PENDING",
    OrderStatus.PROCESSING: "PROCESSING",
    OrderStatus.COMPLETED: "COMPLETED",
    OrderStatus.PARTIAL: "PARTIALLY_COMPLETED",
    OrderStatus.FAILED: "FAILED",
    OrderStatus.CANCELLED: "REVERSED",
}


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, Decimal):
        return {"$n": decimal_text(value)}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"$n": str(value)}
    return value


def fingerprint(data: dict[str, Any]) -> str:
    """The request as the client meant it: its JSON however spaced or ordered, numbers by value
    (50 and 50.0 are one amount), hashed."""
    text = json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _name(first: str | None, last: str | None) -> str | None:
    return " ".join(p.strip() for p in (first, last) if p and p.strip()) or None


def _scheduled(s: DeliverySchedule | None, now: datetime, p: str) -> datetime | None:
    """NOW, or SCHEDULED on a date: sent at 00:00 UTC that day (morning of that day everywhere in
    Australia); today means now; a day already past is refused."""
    if s is None or s.scheduleType == "NOW":
        return None
    if s.deliveryDate is None:
        raise ValidationFailed("a SCHEDULED delivery needs deliveryDate", param=f"{p}.delivery.scheduled_at")
    if s.deliveryDate < now.date():
        raise ValidationFailed("deliveryDate is in the past", param=f"{p}.delivery.scheduled_at")
    at = datetime.combine(s.deliveryDate, time(0), UTC)
    return at if at > now else None


def _item(i: int, it: GiftItem, now: datetime) -> ItemRequest:
    p = f"items[{i}]"
    amount = to_minor(it.activationValue, currency(it.currencyCode, param=f"{p}.currency"), param=f"{p}.amount")
    text = it.personalisationInfo[0] if it.personalisationInfo else None
    images = (text.assets.images or []) if text and text.assets else []
    image = next((im.location for im in images if im.imageType == "WEB"), None)
    fulfil = it.fulfillmentInfoDto
    sender = fulfil.senderInfo if fulfil else None
    recipient: dict[str, str | None] = {}
    delivery: dict[str, Any] | None = None
    if fulfil and fulfil.deliveryInfo:
        d = fulfil.deliveryInfo[0]
        channel = "email" if d.deliveryMode == "EMAIL" else "sms"
        recipient = {"email": d.email} if channel == "email" else {"phone": d.mobile}
        delivery = {"channel": channel, "scheduled_at": _scheduled(fulfil.deliverySchedule, now, p), "image_url": image}
    return ItemRequest(
        product=it.productId,
        amount=amount,
        quantity=it.quantity,
        recipient=recipient,
        sender={"name": _name(sender.firstName, sender.lastName)} if it.sendAsGift and sender else {},
        message=text.message if text else None,
        delivery=delivery,
        metadata={"clientItemId": it.clientItemId} if it.clientItemId else {},
        design=it.designId,
        vendor_data={VENDOR: it.model_dump(mode="json", exclude_unset=True)},
        currency=it.currencyCode,
    )


def order_request(order: SubmitOrder, data: dict[str, Any], *, now: datetime, background: bool) -> OrderRequest:
    """The order to place for a Submit Order body (`data`, as parsed, for the fingerprint)."""
    items = [_item(i, it, now) for i, it in enumerate(order.giftItemsInfo or [])]
    metadata = {k: v for k in SEARCHABLE if isinstance(v := getattr(order, k), str)}
    return OrderRequest(
        reference=order.clientOrderNumber,
        items=items,
        mode=Mode.ASYNC if background else Mode.AUTO,
        metadata=metadata,
        vendor_data={VENDOR: order.model_dump(mode="json", exclude_unset=True, exclude={"giftItemsInfo", "reversal"})},
        fingerprint=fingerprint(data),
    )


# -- the response -------------------------------------------------------------------------------


def major(amount: int, code: str) -> Decimal:
    return to_major(amount, currency(code))


def _card(c: CardView, item: ItemView, code: str) -> dict[str, Any]:
    managed = (item.delivery or {}).get("channel") in DELIVERED
    if c.status == UnitStatus.ISSUED.value:
        status = (c.card_status or "active").upper()
    else:
        status = "REVERSED" if c.status == UnitStatus.CANCELLED.value else c.status.upper()
    return {
        "cardId": c.id,
        "status": status,
        "cardNumber": c.code,
        "pin": c.pin,
        "serialNumber": c.serial,
        "activationValue": major(item.amount, code),
        "currencyCode": code,
        "expiryDate": c.expires_at.date().isoformat() if c.expires_at else None,
        "cardUrl": c.link,
        "fulfilment": "MANAGED" if managed else "SELF_MANAGED",
        "error": c.error,
    }


def _echo_item(item: ItemView, code: str) -> dict[str, Any]:
    sent = (item.vendor_data or {}).get(VENDOR)
    if isinstance(sent, dict):
        return wire.stored(GiftItem, sent).model_dump(exclude_unset=True)
    # An order placed some other way: the item in the vendor's words, as far as it has them.
    out: dict[str, Any] = {"productId": item.product, "currencyCode": code}
    out.update(activationValue=major(item.amount, code), quantity=item.quantity)
    if item.design is not None:
        out["designId"] = item.design
    return out


def order_body(view: OrderView, *, correlation: str | None) -> dict[str, Any]:
    """The order as Submit Order and Get Order answer it: Giftwell's figures, then the request's
    own fields as sent, then each gift item as sent with its status and cards."""
    code = view.currency
    body: dict[str, Any] = {
        "clientOrderNumber": view.reference,
        "orderNumber": view.id,
        "status": ORDER_STATUS[view.status],
        "correlationId": correlation,
        "orderDate": view.created_at,
        "completedDate": view.completed_at,
        "currencyCode": code,
        "totalCards": view.card_count,
        "totalActivationValue": major(view.total_face_value, code),
        "totalCharged": major(view.charged - view.refunded, code),
    }
    sent = (view.vendor_data or {}).get(VENDOR)
    if isinstance(sent, dict):
        echo = wire.stored(SubmitOrder, {**sent, "clientOrderNumber": view.reference})
        body.update({k: v for k, v in echo.model_dump(exclude_unset=True).items() if k not in body})
    body["giftItemsInfo"] = [
        {**_echo_item(item, code), "itemStatus": ORDER_STATUS[OrderStatus(item.status)]}
        | {"giftCards": [_card(c, item, code) for c in item.cards]}
        for item in view.items or []
    ]
    return body


def reversal_body(
    view: OrderView, *, cancelled: int, already: bool, correlation: str | None, reversal_number: str | None = None
) -> dict[str, Any]:
    body = order_body(view, correlation=correlation)
    body["reversal"] = {
        "clientOrderNumber": reversal_number,
        "reversedCards": cancelled,
        "alreadyReversed": already,
        "refundedAmount": major(view.refunded, view.currency),
    }
    return body
