"""Giftwell's cards, deliveries and transfers in Wix's words.

- A card is a `giftCard`: amounts as decimal strings with the currency's places (`"50.00"`, JPY
  `"500"`), dates as `2026-01-05T10:00:00.000Z`, the code masked (`****-****-****-4444`) except in
  the create response, `source` `ORDER`/`MANUAL`, `disabledDate` for a disabled card (Wix has no
  status field), `revision` the card's last change in milliseconds since the epoch (a number that
  grows with every change of the card itself; a balance movement is not a change of the card).
- `notificationInfo` is the card's latest email delivery (or, never emailed, its recipient and
  sender), in the shape of `wire.notice`.
- A transfer is a transaction: `type` `REDEEM`, `REFUND`, `RELOAD`, `ACTIVATE`, `ADJUST`,
  `TRANSFER` or `EXPIRE`, with its signed effect on the card and the balance after it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from giftwell.domain.cards import Card, CardSource
from giftwell.domain.ledger import Transfer
from giftwell.domain.money import to_major
from giftwell.services.currencies import currency as lookup_currency
from giftwell.services.delivery.deliveries import DeliveryView
from giftwell.services.delivery.notices import Noticed
from giftwell.services.pagination import Page

SOURCES = {CardSource.ORDER: "ORDER", CardSource.MANUAL: "MANUAL", CardSource.IMPORT: "MANUAL"}


def amount(minor: int, currency: str) -> dict[str, str]:
    return {"amount": format(to_major(minor, lookup_currency(currency)), "f")}


def date(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def masked(last4: str) -> str:
    return f"****-****-****-{last4}"


def notification(card: Card, sent: DeliveryView | None) -> dict[str, Any] | None:
    recipient = {"email": sent.to, "name": sent.recipient_name} if sent else vars_of(card.recipient)
    sender = {"email": card.sender.email, "name": (sent.sender_name if sent else None) or card.sender.name}
    info: dict[str, Any] = {}
    for key, value in (("recipientInfo", recipient), ("senderInfo", sender)):
        kept = {k: v for k, v in value.items() if v}
        if kept:
            info[key] = kept
    if sent is not None:
        if sent.message:
            info["personalMessage"] = sent.message
        if sent.image_url:
            info["image"] = {"url": sent.image_url}
        info["notificationDate"] = date(sent.scheduled_at)
    return info or None


def vars_of(party: Any) -> dict[str, Any]:
    return {"email": party.email, "name": party.name}


def gift_card(card: Card, sent: DeliveryView | None = None, *, code: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": card.id,
        "code": code if code is not None else masked(card.code_last4),
        "codeSuffix": card.code_last4,
        "initialValue": amount(card.initial_amount, card.currency),
        "balance": amount(card.balance, card.currency),
        "currency": card.currency,
        "source": SOURCES[card.source],
        "createdDate": date(card.created_at),
        "updatedDate": date(card.updated_at),
        "revision": str(int(card.updated_at.timestamp() * 1000)),
    }
    if card.expires_at is not None:
        body["expirationDate"] = date(card.expires_at)
    if card.disabled_at is not None:
        body["disabledDate"] = date(card.disabled_at)
    info = notification(card, sent)
    if info is not None:
        body["notificationInfo"] = info
    return body


def noticed(n: Noticed) -> dict[str, Any]:
    return gift_card(n.card, n.email)


def listing(items: list[Noticed], page: Page[Any], key: str = "giftCards") -> dict[str, Any]:
    return {key: [noticed(n) for n in items], "pagingMetadata": paging(len(items), page)}


def paging(count: int, page: Page[Any]) -> dict[str, Any]:
    return {"count": count, "cursors": {"next": page.next_cursor}, "hasNext": page.has_more}


def transaction(t: Transfer, card: Card) -> dict[str, Any]:
    incoming = t.credit_account_id == card.ledger_account_id
    after = t.credit_balance_after if incoming else t.debit_balance_after
    body: dict[str, Any] = {
        "id": t.id,
        "giftCardId": card.id,
        "type": t.kind.value.upper(),
        "status": t.status.value.upper(),
        "amount": amount(t.amount if incoming else -t.amount, t.currency),
        "currency": t.currency,
        "createdDate": date(t.created_at),
    }
    if after is not None:
        body["balanceAfter"] = amount(after, t.currency)
    if t.reference:
        body["reference"] = t.reference
    return body
