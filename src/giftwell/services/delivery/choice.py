"""Choice reward links: an order item that gives its recipient a value to spend on one or more of
a set of products, instead of one card.

Each unit of a choice item becomes a link when its order is fulfilled (`issue`, in the
fulfilment batch): a guarded ledger account of kind `choice_link` valued by a `choice_fund`
transfer from the operator's issuance account, while the buyer pays the unit's price from the
order's hold like any card. The token is derived from the unit id (`Keys.link_token`), as an
order card's is, and only its keyed hash is stored.

The recipient opens `/r/{token}` (`choice_picks.open_link`), picks a product and an amount
(`choice_picks.pick`): a card of that product is issued and the amount is paid from the link by
a `choice_pick` transfer; the rest stays on the link. A link past its `expires_at` is expired by
the sweep: what is left goes to the buyer's breakage account with a `reward.expired` event.

This module issues links and reads them (the buyer's view); `choice_picks` holds the recipient's
side and expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from giftwell.domain.catalog import Product
from giftwell.domain.errors import NotFound, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.domain.ledger import AccountKind, TransferKind
from giftwell.services.access import accounts
from giftwell.services.catalog import products as catalog
from giftwell.services.ledger import accounts as ledger_accounts
from giftwell.services.ledger import transfers
from giftwell.services.ledger.transfers import Leg
from giftwell.store.models import ChoiceLink, ChoicePick, LedgerAccount, Order
from giftwell.store.uow import UnitOfWork

# How long a link stays open when the item does not say: a year, the usual gift-card minimum.
DEFAULT_LIFETIME = timedelta(days=365)
MAX_PRODUCTS = 100


class LinkStatus:
    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


def choosable(p: Product, *, currency: str, country: str | None) -> bool:
    """Whether a recipient of a link in `currency` for `country` may pick `p`: active, in that
    currency, sold there, and made here (an upstream's card is bought in the background, which a
    recipient waiting on a page cannot be)."""
    return (
        p.active
        and p.currency == currency
        and not p.upstream
        and (country is None or not p.countries or country in p.countries)
    )


async def eligible(
    uow: UnitOfWork, *, currency: str, country: str | None, names: list[str] | None, param: str
) -> list[str]:
    """The products a choice item offers: `names` checked one by one (an unknown one, or one not
    choosable in this currency and country, is refused naming its index), or every choosable
    product when `names` is None. An empty result is refused."""
    if names is None:
        found = [
            p.id
            for p in await catalog.list_products(uow, currency=currency, country=country)
            if choosable(p, currency=currency, country=country)
        ]
        if not found:
            where = f" in {country}" if country else ""
            raise ValidationFailed(f"no product can be chosen in {currency}{where}", param=param, rule="no_products")
        return found
    if not isinstance(names, list) or not names:
        raise ValidationFailed("products must be a non-empty list of product ids", param=param)
    if len(names) > MAX_PRODUCTS:
        raise ValidationFailed(f"at most {MAX_PRODUCTS} products", param=param)
    out: list[str] = []
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name or len(name) > 80:
            raise ValidationFailed("a product id is a string of 1 to 80 characters", param=f"{param}[{i}]")
        try:
            p = await catalog.get(uow, name)
        except NotFound:
            raise ValidationFailed(f"no such product {name!r}", param=f"{param}[{i}]", rule="unknown") from None
        if not choosable(p, currency=currency, country=country):
            where = f" in {country}" if country else ""
            raise ValidationFailed(
                f"product {name!r} cannot be chosen in {currency}{where}", param=f"{param}[{i}]", rule="not_choosable"
            )
        if p.id not in out:
            out.append(p.id)
    return out


async def issue(uow: UnitOfWork, *, order: Any, unit_id: str, item: Any, position: int) -> str:
    """The link of an order unit, valued at the item's amount (a step of the fulfilment batch).
    A unit that has its link already returns it."""
    done = await uow.conn.scalar(sa.select(ChoiceLink.id).where(ChoiceLink.unit_id == unit_id))
    if done is not None:
        return str(done)
    spec = item.choice or {}
    currency = order.currency
    op = await accounts.operator_account(uow)
    la = await ledger_accounts.open_account(
        uow, account_id=order.account_id, kind=AccountKind.CHOICE_LINK, currency=currency
    )
    issuance = await ledger_accounts.system_account(uow, account_id=op.id, kind=AccountKind.ISSUANCE, currency=currency)
    link_id = new_id("sl")
    await transfers.post(
        uow,
        account_id=order.account_id,
        kind=TransferKind.CHOICE_FUND,
        currency=currency,
        amount=int(item.amount),
        debit=Leg(issuance, guarded=False),
        credit=Leg(la, guarded=True),
        reference=link_id,
    )
    expires = spec.get("expires_at")
    keys = uow.rt.keys
    await uow.conn.execute(
        sa.insert(ChoiceLink).values(
            id=link_id,
            account_id=order.account_id,
            order_id=order.id,
            item_id=item.id,
            unit_id=unit_id,
            position=position,
            ledger_account_id=la,
            currency=currency,
            country=item.country,
            initial_balance=int(item.amount),
            products=list(spec.get("products") or []),
            token_hash=keys.link_hash(keys.link_token(unit_id)),
            status=LinkStatus.ACTIVE,
            test=bool(order.test),
            expires_at=datetime.fromisoformat(expires) if isinstance(expires, str) else uow.now + DEFAULT_LIFETIME,
            created_at=uow.now,
            open_count=0,
        )
    )
    return link_id


@dataclass(frozen=True, slots=True)
class PickView:
    id: str
    product: str
    amount: int
    card_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LinkView:
    id: str
    account_id: str
    order_id: str
    item_id: str
    unit_id: str
    currency: str
    country: str | None
    initial_balance: int
    unspent_balance: int
    status: str
    products: list[str]
    expires_at: datetime
    created_at: datetime
    first_opened_at: datetime | None
    last_opened_at: datetime | None
    open_count: int
    picks: list[PickView]
    token: str
    url: str
    test: bool
    position: int


async def view(uow: UnitOfWork, r: Any) -> LinkView:
    return (await views(uow, [r]))[0]


async def views(uow: UnitOfWork, rows: list[Any]) -> list[LinkView]:
    """Links as the buyer and the recipient see them: two queries for any number of rows (their
    balances, their picks)."""
    if not rows:
        return []
    balances = dict(
        (
            await uow.conn.execute(
                sa.select(LedgerAccount.id, LedgerAccount.balance).where(
                    LedgerAccount.id.in_([r.ledger_account_id for r in rows])
                )
            )
        ).all()
    )
    picked: dict[str, list[PickView]] = {}
    for p in (
        await uow.conn.execute(
            sa.select(ChoicePick)
            .where(ChoicePick.link_id.in_([r.id for r in rows]))
            .order_by(ChoicePick.created_at, ChoicePick.id)
        )
    ).all():
        picked.setdefault(p.link_id, []).append(PickView(p.id, p.product_id, int(p.amount), p.card_id, p.created_at))
    keys = uow.rt.keys
    out = []
    for r in rows:
        token = keys.link_token_matching(r.unit_id, r.token_hash) or keys.link_token(r.unit_id)
        out.append(
            LinkView(
                id=r.id,
                account_id=r.account_id,
                order_id=r.order_id,
                item_id=r.item_id,
                unit_id=r.unit_id,
                currency=r.currency,
                country=r.country,
                initial_balance=int(r.initial_balance),
                unspent_balance=int(balances.get(r.ledger_account_id) or 0),
                status=r.status,
                products=list(r.products or []),
                expires_at=r.expires_at,
                created_at=r.created_at,
                first_opened_at=r.first_opened_at,
                last_opened_at=r.last_opened_at,
                open_count=int(r.open_count),
                picks=picked.get(r.id, []),
                token=token,
                url=f"{uow.rt.settings.base_url}/r/{token}",
                test=bool(r.test),
                position=int(r.position),
            )
        )
    return out


async def for_order(
    uow: UnitOfWork, *, account_id: str, order_id: str, limit: int = 100, after: int | None = None
) -> list[LinkView]:
    """The buyer's links of an order, in the order's own order, `limit` at a time after the
    position `after`: initial and unspent balance, opens, picks, the link itself."""
    owner = await uow.conn.scalar(sa.select(Order.account_id).where(Order.id == order_id))
    if owner is None or owner != account_id:
        raise NotFound("no such order", param="order")
    q = sa.select(ChoiceLink).where(ChoiceLink.order_id == order_id)
    if after is not None:
        q = q.where(ChoiceLink.position > after)
    rows = (await uow.conn.execute(q.order_by(ChoiceLink.position).limit(limit))).all()
    return await views(uow, list(rows))


async def for_units(uow: UnitOfWork, unit_ids: list[str]) -> dict[str, LinkView]:
    """The links of these order units (those that are choice units), by unit id."""
    if not unit_ids:
        return {}
    rows = (await uow.conn.execute(sa.select(ChoiceLink).where(ChoiceLink.unit_id.in_(unit_ids)))).all()
    return {v.unit_id: v for v in await views(uow, list(rows))}


async def cancel(uow: UnitOfWork, unit_id: str) -> bool | None:
    """Cancel the link of an order unit if it was never picked (a step of the order's cancel):
    its value goes back to the operator's issuance account (`choice_cancel`) and its page
    answers 410. None when the unit has no link (not a choice unit); False when the link was
    picked from, or is no longer active. The link's row is locked first, as a pick locks it, so
    a pick and a cancel never both pass."""
    row = (await uow.conn.execute(sa.select(ChoiceLink).where(ChoiceLink.unit_id == unit_id).with_for_update())).first()
    if row is None:
        return None
    balance = await uow.conn.scalar(sa.select(LedgerAccount.balance).where(LedgerAccount.id == row.ledger_account_id))
    if row.status != LinkStatus.ACTIVE or int(balance or 0) != int(row.initial_balance):
        return False
    await uow.conn.execute(
        sa.update(ChoiceLink).where(ChoiceLink.id == row.id).values(status=LinkStatus.CANCELLED, expired_at=uow.now)
    )
    op = await accounts.operator_account(uow)
    issuance = await ledger_accounts.system_account(
        uow, account_id=op.id, kind=AccountKind.ISSUANCE, currency=row.currency
    )
    await transfers.post(
        uow,
        account_id=row.account_id,
        kind=TransferKind.CHOICE_CANCEL,
        currency=row.currency,
        amount=int(row.initial_balance),
        debit=Leg(row.ledger_account_id, guarded=True),
        credit=Leg(issuance, guarded=False),
        reference=row.id,
        reason="order cancelled",
    )
    return True
