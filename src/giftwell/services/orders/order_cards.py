"""The buyer's view of what it bought: an order's cards, a page at a time (a 10,000-card order is
never read or rendered whole), each with its status, code and PIN (the buyer owns them: each
page's showing is recorded like `views.reveal_order`'s), initial and current balance, reward
link, first and last opening of the link, and its latest delivery's status and attempts.

One page is three indexed reads whatever the order's size: the page of units (keyset on the
unit's position, joined to its card, the card's ledger account and its reward link), the latest
delivery of each card on the page, and the codes of the page's cards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain.errors import NotFound
from giftwell.domain.orders import UnitStatus
from giftwell.services import events
from giftwell.services.cards import reads as cards
from giftwell.services.delivery import choice
from giftwell.services.orders.views import SUPPLIED_COLUMNS, buyer_status, supplied_secrets
from giftwell.services.pagination import Kind, Page, Sort, paginate
from giftwell.store.models import Card, Delivery, LedgerAccount, Order, OrderCard, RewardLink, SuppliedCard
from giftwell.store.uow import UnitOfWork

BY_POSITION = Sort("position", OrderCard.position, Kind.INT, OrderCard.id)


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """A card's latest delivery: how it is being sent and how far it got."""

    id: str
    channel: str
    status: str
    attempts: int
    to: str
    last_attempt_at: datetime | None
    sent_at: datetime | None
    failed_at: datetime | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class OrderCardView:
    id: str
    item_id: str
    status: str
    card_id: str | None
    card_status: str | None
    currency: str
    initial_balance: int | None
    current_balance: int | None
    code: str | None
    pin: str | None
    serial: str | None
    link: str | None
    expires_at: datetime | None
    first_opened_at: datetime | None
    last_opened_at: datetime | None
    open_count: int
    delivery: DeliveryState | None
    error: str | None


def _query(order_id: str) -> Any:
    return (
        sa.select(
            OrderCard.id,
            OrderCard.item_id,
            OrderCard.position,
            OrderCard.status,
            OrderCard.card_id,
            OrderCard.issuer_account_id,
            OrderCard.error,
            OrderCard.link_token_hash,
            Card.status.label("card_status"),
            Card.currency,
            Card.initial_amount,
            Card.serial,
            Card.expires_at,
            LedgerAccount.balance,
            RewardLink.first_opened_at,
            RewardLink.last_opened_at,
            RewardLink.open_count,
            *SUPPLIED_COLUMNS,
        )
        .outerjoin(Card, Card.id == OrderCard.card_id)
        .outerjoin(SuppliedCard, SuppliedCard.order_card_id == OrderCard.id)
        .outerjoin(LedgerAccount, LedgerAccount.id == Card.ledger_account_id)
        .outerjoin(RewardLink, RewardLink.card_id == OrderCard.card_id)
        .where(OrderCard.order_id == order_id)
    )


async def _latest_deliveries(uow: UnitOfWork, card_ids: list[str]) -> dict[str, DeliveryState]:
    if not card_ids:
        return {}
    rows = await uow.conn.execute(
        sa.select(Delivery)
        .where(Delivery.card_id.in_(card_ids))
        .order_by(Delivery.card_id, Delivery.created_at.desc(), Delivery.id.desc())
    )
    out: dict[str, DeliveryState] = {}
    for d in rows:
        if d.card_id not in out:
            out[d.card_id] = DeliveryState(
                d.id,
                d.channel,
                d.status,
                int(d.attempts),
                d.to_address,
                d.last_attempt_at,
                d.sent_at,
                d.failed_at,
                d.reason,
            )
    return out


async def list_cards(
    uow: UnitOfWork,
    *,
    account_id: str,
    order_id: str,
    limit: int = 50,
    cursor: str | None = None,
    reveal: bool = True,
) -> Page[OrderCardView]:
    """One page of the caller's order's cards, in the order's own order. Shows codes: the page's
    issued cards each count one reveal, and one `order.codes_revealed` event says how many.
    `reveal=False` (the dashboard) shows no code, PIN or link, and records nothing."""
    order = (
        await uow.conn.execute(
            sa.select(Order.id, Order.currency).where(Order.id == order_id, Order.account_id == account_id)
        )
    ).first()
    if order is None:
        raise NotFound("no such order", param="order")
    page = await paginate(uow, _query(order_id), sort=BY_POSITION, limit=limit, cursor=cursor, convert=lambda r: r)
    rows = page.data
    issued = [
        r
        for r in rows
        if reveal and (r.card_id is not None or r.supplied is not None) and r.status == UnitStatus.ISSUED.value
    ]
    sent = await _latest_deliveries(uow, [r.card_id for r in rows if r.card_id is not None])
    base, keys = uow.rt.settings.base_url, uow.rt.keys
    secrets: dict[str, tuple[str | None, str | None]] = {}
    for r in issued:
        if r.supplied is not None:  # made by an upstream supplier: its code, as it told us
            secrets[r.id] = supplied_secrets(keys, r)[:2]
        else:
            secrets[r.id] = await cards.reveal_code(uow, account_id=r.issuer_account_id, card_id=r.card_id)
    if issued:
        await uow.conn.execute(
            sa.update(OrderCard)
            .where(OrderCard.id.in_([r.id for r in issued]))
            .values(reveal_count=OrderCard.reveal_count + 1, last_revealed_at=uow.now)
        )
        await events.record(
            uow,
            account_id=account_id,
            type="order.codes_revealed",
            subject_id=order_id,
            data={"order": order_id, "cards": len(issued)},
        )
    # Choice units: a reward link holding a value, not a card; shown with the link's balances.
    links = await choice.for_units(uow, [r.id for r in rows if r.card_id is None and r.supplied is None])
    out = []
    for r in rows:
        if r.id in links:
            out.append(_link_row(r, links[r.id], buyer_status(r.status), shown=reveal))
            continue
        code, pin = secrets.get(r.id, (None, None))
        shown = r.id in secrets
        # Under the secret that made the link (a key rotation keeps links sent out working).
        own_link = f"{base}/r/{keys.link_token_matching(r.id, r.link_token_hash) or keys.link_token(r.id)}"
        link = (r.link if r.supplied is not None else own_link) if shown else None
        expires = supplied_secrets(keys, r)[2] if r.supplied is not None else r.expires_at
        out.append(
            OrderCardView(
                id=r.id,
                item_id=r.item_id,
                status=buyer_status(r.status),
                card_id=r.card_id,
                card_status=r.card_status,
                currency=r.currency or order.currency,
                initial_balance=None if r.initial_amount is None else int(r.initial_amount),
                current_balance=None if r.balance is None else int(r.balance),
                code=code,
                pin=pin,
                serial=r.supplied_serial if r.supplied is not None else r.serial,
                link=link,
                expires_at=expires,
                first_opened_at=r.first_opened_at,
                last_opened_at=r.last_opened_at,
                open_count=int(r.open_count or 0),
                delivery=sent.get(r.card_id) if r.card_id else None,
                error=r.error,
            )
        )
    return Page(out, page.has_more, page.next_cursor)


def _link_row(r: Any, link: choice.LinkView, status: str, *, shown: bool) -> OrderCardView:
    return OrderCardView(
        id=r.id,
        item_id=r.item_id,
        status=status,
        card_id=None,
        card_status=link.status,
        currency=link.currency,
        initial_balance=link.initial_balance,
        current_balance=link.unspent_balance,
        code=None,
        pin=None,
        serial=None,
        link=link.url if shown else None,
        expires_at=link.expires_at,
        first_opened_at=link.first_opened_at,
        last_opened_at=link.last_opened_at,
        open_count=link.open_count,
        delivery=None,
        error=r.error,
    )
