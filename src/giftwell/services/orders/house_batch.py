"""The house supplier's cards of a fulfilment batch, made together (`cards.batch`): one multi-row
insert (COPY on PostgreSQL) per table for the whole batch instead of a round trip per card and
table, the units marked issued in two statements, the reward links in one.

Each card is exactly what `HouseSupplier.issue` makes for a unit (`issuing.issue` with the
product's code format, value, expiry, the item's sender and recipient, the unit's metadata,
source `order`): the same ledger account, `activate` transfer, card query rows, `card.created`
and `card.activated` events and their webhook deliveries; each unit gets the reward link or the
delivery `deliveries.for_order_card` gives it. All of it runs in the batch's transaction, so a
crash leaves all of it or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain import codes
from giftwell.domain.cards import CardSource, Party
from giftwell.domain.catalog import Product, add_months
from giftwell.domain.errors import InvalidState
from giftwell.domain.ledger import AccountKind
from giftwell.domain.money import MAX_AMOUNT
from giftwell.domain.orders import UnitStatus
from giftwell.services.cards import batch, issuing
from giftwell.services.catalog import suppliers
from giftwell.services.delivery import deliveries, reward
from giftwell.services.ledger import accounts as ledger_accounts
from giftwell.store.models import OrderCard
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class HouseUnit:
    id: str
    issuer_account_id: str
    item: Any
    product: Product


def batchable(item: Any, product: Product | None) -> bool:
    """Whether a unit of `item` is issued here: a card of the house supplier with a value (a zero
    one makes an inactive card, which `issuing.issue` handles)."""
    amount = int(item.amount)
    return product is not None and suppliers.in_house(product.supplier) and 0 < amount <= MAX_AMOUNT


@dataclass(frozen=True, slots=True)
class _Terms:
    code_format: codes.CodeFormat
    expires_at: datetime | None
    sender: Any
    recipient: Any


async def _terms(uow: UnitOfWork, u: HouseUnit) -> _Terms:
    """What every card of an item shares, checked as `issuing.issue` checks it."""
    product, item = u.product, u.item
    fmt = codes.CodeFormat(**product.code_format) if product.code_format else codes.DEFAULT_FORMAT
    expires = add_months(uow.now, product.expiry_months) if product.expiry_months else None
    if expires is not None:
        await issuing.check_expiry(
            uow, account_id=u.issuer_account_id, expires_at=expires, product_policy=product.expiry_policy
        )
    sender = issuing.party(Party(item.sender.get("name"), item.sender.get("email")), "sender")
    recipient = issuing.party(Party(item.recipient.get("name"), item.recipient.get("email")), "recipient")
    return _Terms(fmt, expires, sender, recipient)


async def issue(uow: UnitOfWork, *, order: Any, units: list[HouseUnit]) -> None:
    """Issue one card for each of `units` (pending, locked by the caller's batch) and mark them
    issued, in the caller's transaction."""
    rows = batch.CardBatch(uow.rt.keys, uow.now, with_events=True)
    terms: dict[tuple[str, str], _Terms] = {}
    issuance: dict[tuple[str, str], str] = {}
    made: list[tuple[HouseUnit, str]] = []
    for u in units:
        key = (u.item.id, u.issuer_account_id)
        if key not in terms:
            terms[key] = await _terms(uow, u)
        t = terms[key]
        if key not in issuance:
            issuance[key] = await ledger_accounts.system_account(
                uow, account_id=u.issuer_account_id, kind=AccountKind.ISSUANCE, currency=u.product.currency
            )
        card_id, _ = rows.add(
            account_id=u.issuer_account_id,
            issuance_id=issuance[key],
            currency=u.product.currency,
            amount=int(u.item.amount),
            code_format=t.code_format,
            expires_at=t.expires_at,
            sender=t.sender,
            recipient=t.recipient,
            metadata={"order": order.id, "order_card": u.id, "product": u.product.id},
            source=CardSource.ORDER,
            test=bool(order.test),
        )
        made.append((u, card_id))
    await rows.write(uow)
    ids = [u.id for u, _ in made]
    settled = await uow.conn.execute(
        sa.update(OrderCard)
        .where(OrderCard.id.in_(ids), OrderCard.status == UnitStatus.PENDING.value)
        .values(status=UnitStatus.ISSUED.value, error=None, updated_at=uow.now)
        .returning(OrderCard.id)
    )
    if len(settled.all()) != len(ids):
        # Locked by this batch, so only a bug gets here; raising rolls the whole batch back.
        raise InvalidState("order card was settled concurrently", param="order")
    await uow.conn.execute(
        sa.update(OrderCard).where(OrderCard.id == sa.bindparam("unit")).values(card_id=sa.bindparam("card")),
        [{"unit": u.id, "card": card_id} for u, card_id in made],
    )
    links = [
        reward.link_row(uow, card_id, order.account_id, uow.rt.keys.link_token(u.id))
        for u, card_id in made
        if not deliveries.sends(u.item)
    ]
    await reward.add_links(uow, links)
    for u, card_id in made:
        if deliveries.sends(u.item):
            await deliveries.for_order_card(uow, order=order, unit_id=u.id, card_id=card_id, item=u.item)
