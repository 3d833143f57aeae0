"""The recipient's side of a choice reward link (see `choice`): opening it, picking a product and
an amount (a card, paid from the link), and the sweep's expiry of what is left.

A pick is idempotent by its key (`pick_key`, the number of picks the page showed when it was
rendered): the key is unique per link, so the same form submitted twice, from one tab or two,
makes one card. The second submit's transaction fails on the unique constraint and rolls back
whole (its card and transfer with it); `pick_once` then answers the pick that won.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from giftwell.domain import codes
from giftwell.domain.cards import CardSource
from giftwell.domain.catalog import add_months
from giftwell.domain.errors import InsufficientFunds, NotFound, RewardGone, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.domain.ledger import AccountKind, TransferKind
from giftwell.services import events
from giftwell.services.access import accounts
from giftwell.services.cards import issuing
from giftwell.services.catalog import products as catalog
from giftwell.services.delivery import choice, reward
from giftwell.services.delivery.choice import LinkStatus, LinkView, PickView
from giftwell.services.ledger import accounts as ledger_accounts
from giftwell.services.ledger import transfers
from giftwell.services.ledger.transfers import Leg, LegRefused
from giftwell.services.runtime import Runtime
from giftwell.store.models import ChoiceLink, ChoicePick, LedgerAccount
from giftwell.store.uow import UnitOfWork

MAX_TOKEN_LENGTH = reward.MAX_TOKEN_LENGTH


async def _row(uow: UnitOfWork, token: str, *, lock: bool = False) -> Any:
    """The link behind a token: `NotFound` for a token nobody issued, `RewardGone` for an expired
    or cancelled one (expired by the sweep, or due and not reached yet). `lock`: its row locked
    (a pick: the sweep's expiry and an order's cancel lock it too, so they never cross a pick)."""
    if not isinstance(token, str) or not 20 <= len(token) <= MAX_TOKEN_LENGTH:
        raise NotFound("no such reward link", param="token")
    digests = uow.rt.keys.link_hashes(token)
    q = sa.select(ChoiceLink).where(ChoiceLink.token_hash.in_(digests))
    row = (await uow.conn.execute(q.with_for_update() if lock else q)).first()
    if row is None:
        raise NotFound("no such reward link", param="token")
    if row.status != LinkStatus.ACTIVE or row.expires_at <= uow.now:
        raise RewardGone("this reward link can no longer be used", param="token", status=row.status)
    return row


async def is_choice(uow: UnitOfWork, token: str) -> bool:
    if not isinstance(token, str) or not 20 <= len(token) <= MAX_TOKEN_LENGTH:
        return False
    digests = uow.rt.keys.link_hashes(token)
    return (await uow.conn.scalar(sa.select(ChoiceLink.id).where(ChoiceLink.token_hash.in_(digests)))) is not None


async def open_link(uow: UnitOfWork, token: str) -> LinkView:
    """The link as its recipient sees it, recording the open (the first by a guarded update that
    one caller wins, with its `reward.opened` event; then the last open and the count)."""
    row = await _row(uow, token)
    first = await uow.conn.execute(
        sa.update(ChoiceLink)
        .where(ChoiceLink.id == row.id, ChoiceLink.first_opened_at.is_(None))
        .values(first_opened_at=uow.now)
        .returning(ChoiceLink.id)
    )
    if first.first() is not None:
        await events.record(
            uow,
            account_id=row.account_id,
            type="reward.opened",
            subject_id=row.id,
            data={"choice_link": row.id, "order": row.order_id},
        )
    await uow.conn.execute(
        sa.update(ChoiceLink)
        .where(ChoiceLink.id == row.id)
        .values(last_opened_at=uow.now, open_count=ChoiceLink.open_count + 1)
    )
    fresh = (await uow.conn.execute(sa.select(ChoiceLink).where(ChoiceLink.id == row.id))).one()
    return await choice.view(uow, fresh)


async def peek(uow: UnitOfWork, token: str) -> LinkView:
    """The link without recording an open (the page after a pick)."""
    return await choice.view(uow, await _row(uow, token))


@dataclass(frozen=True, slots=True)
class Picked:
    link: LinkView
    pick: PickView
    # The card's own reward page, where its recipient reveals the code.
    card_url: str


async def pick(uow: UnitOfWork, token: str, *, pick_key: str, product_id: str, amount: int) -> Picked:
    """Spend `amount` of the link on a card of `product_id` (a step). The same `pick_key` again
    answers the first pick; a product the link does not offer, an amount the product does not
    sell or more than is left is refused, naming the field."""
    row = await _row(uow, token, lock=True)
    if not isinstance(pick_key, str) or not 1 <= len(pick_key) <= 40:
        raise ValidationFailed("pick_key must be 1 to 40 characters", param="pick_key")
    done = (
        await uow.conn.execute(
            sa.select(ChoicePick).where(ChoicePick.link_id == row.id, ChoicePick.pick_key == pick_key)
        )
    ).first()
    if done is not None:
        return await _answer(uow, row, done)
    if product_id not in (row.products or []):
        raise ValidationFailed("this link does not offer that product", param="product")
    try:
        product = await catalog.get(uow, product_id)
    except NotFound:
        raise ValidationFailed("this link does not offer that product", param="product") from None
    if not choice.choosable(product, currency=row.currency, country=row.country):
        raise ValidationFailed(f"{product.name} can no longer be chosen", param="product", rule="not_choosable")
    product.denominations.check(amount, param="amount")
    issuer = product.issuer_account_id or (await accounts.operator_account(uow)).id
    fmt = codes.CodeFormat(**product.code_format) if product.code_format else codes.DEFAULT_FORMAT
    pick_id = new_id("pk")
    # The link pays first: more than is left fails here, before any card exists.
    op = await accounts.operator_account(uow)
    issuance = await ledger_accounts.system_account(
        uow, account_id=op.id, kind=AccountKind.ISSUANCE, currency=row.currency
    )
    try:
        paid = await transfers.post(
            uow,
            account_id=row.account_id,
            kind=TransferKind.CHOICE_PICK,
            currency=row.currency,
            amount=amount,
            debit=Leg(row.ledger_account_id, guarded=True),
            credit=Leg(issuance, guarded=False),
            reference=pick_id,
        )
    except LegRefused:
        left = await uow.conn.scalar(sa.select(LedgerAccount.balance).where(LedgerAccount.id == row.ledger_account_id))
        raise InsufficientFunds(
            f"this link has {left} left, less than {amount}", param="amount", available=int(left or 0)
        ) from None
    issued = await issuing.issue(
        uow,
        account_id=issuer,
        currency=row.currency,
        amount=amount,
        code_format=fmt,
        expires_at=add_months(uow.now, product.expiry_months) if product.expiry_months else None,
        metadata={"product": product.id, "choice_link": row.id, "order": row.order_id},
        source=CardSource.ORDER,
        test=bool(row.test),
        product_policy=product.expiry_policy,
    )
    await uow.conn.execute(
        sa.insert(ChoicePick).values(
            id=pick_id,
            link_id=row.id,
            pick_key=pick_key,
            product_id=product.id,
            amount=amount,
            card_id=issued.card.id,
            transfer_id=paid.transfer.id,
            created_at=uow.now,
        )
    )
    await reward.ensure_link(uow, card_id=issued.card.id, account_id=row.account_id)
    await events.record(
        uow,
        account_id=row.account_id,
        type="reward.picked",
        subject_id=row.id,
        data={
            "choice_link": row.id,
            "order": row.order_id,
            "card": issued.card.id,
            "product": product.id,
            "amount": amount,
            "unspent": paid.debit.balance if paid.debit else None,
        },
    )
    done = (await uow.conn.execute(sa.select(ChoicePick).where(ChoicePick.id == pick_id))).one()
    return await _answer(uow, row, done)


async def _answer(uow: UnitOfWork, row: Any, done: Any) -> Picked:
    link = await choice.view(uow, row)
    token = await reward.token_of(uow, done.card_id)
    shown = PickView(done.id, done.product_id, int(done.amount), done.card_id, done.created_at)
    return Picked(link, shown, reward.url(uow, token))


async def pick_once(rt: Runtime, token: str, *, pick_key: str, product_id: str, amount: int) -> Picked:
    """`pick` in a transaction of its own; when a concurrent submit of the same key committed
    first (the unique constraint refuses this one, rolling it back whole), its pick."""
    try:
        return await rt.transact(lambda uow: pick(uow, token, pick_key=pick_key, product_id=product_id, amount=amount))
    except IntegrityError:
        return await rt.transact(lambda uow: pick(uow, token, pick_key=pick_key, product_id=product_id, amount=amount))


async def expire_due(uow: UnitOfWork, *, limit: int = 200) -> int:
    """Expire links past `expires_at` (a guarded update on the status: of two sweepers one does
    it): what is left goes to the buyer's breakage account by an `expire` transfer, with a
    `reward.expired` event. Nothing goes to the recipient."""
    rows = (
        await uow.conn.execute(
            sa.select(ChoiceLink.id)
            .where(ChoiceLink.status == LinkStatus.ACTIVE, ChoiceLink.expires_at <= uow.now)
            .order_by(ChoiceLink.expires_at, ChoiceLink.id)
            .limit(limit)
        )
    ).all()
    done = 0
    for (link_id,) in rows:
        won = await uow.conn.execute(
            sa.update(ChoiceLink)
            .where(ChoiceLink.id == link_id, ChoiceLink.status == LinkStatus.ACTIVE)
            .values(status=LinkStatus.EXPIRED, expired_at=uow.now)
            .returning(ChoiceLink.account_id, ChoiceLink.ledger_account_id, ChoiceLink.currency, ChoiceLink.order_id)
        )
        r = won.first()
        if r is None:
            continue
        done += 1
        left = int(
            await uow.conn.scalar(sa.select(LedgerAccount.balance).where(LedgerAccount.id == r.ledger_account_id)) or 0
        )
        transfer_id = None
        if left > 0:
            breakage = await ledger_accounts.system_account(
                uow, account_id=r.account_id, kind=AccountKind.BREAKAGE, currency=r.currency
            )
            t = await transfers.post(
                uow,
                account_id=r.account_id,
                kind=TransferKind.EXPIRE,
                currency=r.currency,
                amount=left,
                debit=Leg(r.ledger_account_id, guarded=True),
                credit=Leg(breakage, guarded=False),
                reference=link_id,
                reason="choice link expired",
            )
            transfer_id = t.transfer.id
        await events.record(
            uow,
            account_id=r.account_id,
            type="reward.expired",
            subject_id=link_id,
            data={
                "choice_link": link_id,
                "order": r.order_id,
                "breakage": left,
                "currency": r.currency,
                "transfer": transfer_id,
            },
        )
    return done
