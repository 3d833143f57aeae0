"""Reward links and the pages behind them: one link per card, opened by its recipient.

The token is 256 bits: from the CSPRNG (`secrets`) for cards sent through the cards API, and for
an order's cards the token the order already shows (`Keys.link_token`, an HMAC of the order card
id under a secret subkey). Either way it is stored only as a keyed hash (the page's lookup) and
AES-GCM ciphertext (so the next message can carry it again), never in the clear, never logged.

Opening a page records it: `first_opened_at` by a guarded `UPDATE ... WHERE first_opened_at IS
NULL` (of any number of concurrent first opens exactly one wins and writes the `reward.opened`
event), then `last_opened_at` and `open_count`. Revealing the code is a separate POST, recorded
the same way (`reward.revealed`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from giftwell.domain.cards import WITHHELD, Card, past_date
from giftwell.domain.errors import NotFound, RewardGone
from giftwell.services import events
from giftwell.services.cards import batch
from giftwell.services.cards import reads as cards
from giftwell.store.models import Card as CardRow
from giftwell.store.models import RewardLink
from giftwell.store.uow import UnitOfWork

MAX_TOKEN_LENGTH = 100


def _aad(card_id: str) -> str:
    return f"link:{card_id}"


LINK_COLUMNS = (
    "card_id",
    "account_id",
    "token_hash",
    "token_encrypted",
    "locale",
    "created_at",
    "open_count",
    "reveal_count",
)


def link_row(uow: UnitOfWork, card_id: str, account_id: str, token: str, locale: str | None = None) -> tuple[Any, ...]:
    """A new `reward_links` row (in `LINK_COLUMNS` order): the token only as its keyed hash and
    its AES-GCM ciphertext bound to the card."""
    keys = uow.rt.keys
    return (card_id, account_id, keys.link_hash(token), keys.encrypt(token, aad=_aad(card_id)), locale, uow.now, 0, 0)


async def add_links(uow: UnitOfWork, rows: list[tuple[Any, ...]]) -> None:
    """The reward links of cards issued in the caller's transaction, which have none yet (`link_row`
    rows), in one multi-row insert."""
    await batch.insert(uow, RewardLink.__table__, LINK_COLUMNS, rows)


def url(uow: UnitOfWork, token: str) -> str:
    return f"{uow.rt.settings.base_url}/r/{token}"


async def ensure_link(
    uow: UnitOfWork, *, card_id: str, account_id: str, token: str | None = None, locale: str | None = None
) -> str:
    """The card's reward-link token, made on first use (`token` if given, else 256 random bits).
    Safe under concurrency: the insert does nothing when another transaction made the link."""
    keys = uow.rt.keys
    row = (await uow.conn.execute(sa.select(RewardLink.token_encrypted).where(RewardLink.card_id == card_id))).first()
    if row is None:
        new = token or secrets.token_urlsafe(32)
        insert = postgresql.insert(RewardLink) if uow.dialect == "postgresql" else sqlite.insert(RewardLink)
        values = dict(zip(LINK_COLUMNS, link_row(uow, card_id, account_id, new, locale), strict=True))
        await uow.conn.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["card_id"]))
        row = (
            await uow.conn.execute(sa.select(RewardLink.token_encrypted).where(RewardLink.card_id == card_id))
        ).first()
        assert row is not None
    if locale is not None:
        await uow.conn.execute(sa.update(RewardLink).where(RewardLink.card_id == card_id).values(locale=locale))
    return keys.decrypt(row.token_encrypted, aad=_aad(card_id))


async def token_of(uow: UnitOfWork, card_id: str) -> str:
    row = (await uow.conn.execute(sa.select(RewardLink.token_encrypted).where(RewardLink.card_id == card_id))).first()
    if row is None:
        raise NotFound("this card has no reward link", param="card")
    return uow.rt.keys.decrypt(row.token_encrypted, aad=_aad(card_id))


@dataclass(frozen=True, slots=True)
class LinkView:
    card: Card
    account_id: str
    locale: str | None
    first_opened_at: datetime | None
    last_opened_at: datetime | None
    open_count: int
    reveal_count: int


async def _find(uow: UnitOfWork, token: str) -> tuple[Card, Any]:
    """The card behind a token: `NotFound` for a token nobody issued, `RewardGone` for a card that
    must show nothing (blocked, disabled, expired)."""
    if not isinstance(token, str) or not 20 <= len(token) <= MAX_TOKEN_LENGTH:
        raise NotFound("no such reward link", param="token")
    digests = uow.rt.keys.link_hashes(token)
    link = (await uow.conn.execute(sa.select(RewardLink).where(RewardLink.token_hash.in_(digests)))).first()
    if link is None:
        raise NotFound("no such reward link", param="token")
    row = (await uow.conn.execute(sa.select(CardRow.account_id).where(CardRow.id == link.card_id))).first()
    assert row is not None
    card = await cards.get(uow, account_id=row.account_id, card_id=link.card_id)
    if card.status in WITHHELD or past_date(card.expires_at, uow.now):
        raise RewardGone("this gift card can no longer be used", param="token", status=card.status.value)
    return card, link


async def open_link(uow: UnitOfWork, token: str) -> LinkView:
    """The card behind a reward link, recording the open (see the module docstring)."""
    card, link = await _find(uow, token)
    first = await uow.conn.execute(
        sa.update(RewardLink)
        .where(RewardLink.card_id == card.id, RewardLink.first_opened_at.is_(None))
        .values(first_opened_at=uow.now)
        .returning(RewardLink.card_id)
    )
    if first.first() is not None:
        await events.record(
            uow, account_id=link.account_id, type="reward.opened", subject_id=card.id, data={"card": card.id}
        )
    res = await uow.conn.execute(
        sa.update(RewardLink)
        .where(RewardLink.card_id == card.id)
        .values(last_opened_at=uow.now, open_count=RewardLink.open_count + 1)
        .returning(
            RewardLink.first_opened_at, RewardLink.last_opened_at, RewardLink.open_count, RewardLink.reveal_count
        )
    )
    r = res.one()
    return LinkView(
        card, link.account_id, link.locale, r.first_opened_at, r.last_opened_at, r.open_count, r.reveal_count
    )


@dataclass(frozen=True, slots=True)
class Revealed:
    link: LinkView
    code: str
    pin: str | None


async def reveal(uow: UnitOfWork, token: str) -> Revealed:
    """The card's code and PIN for its recipient, recorded (`reveal_count`, first and last reveal,
    a `reward.revealed` event)."""
    card, link = await _find(uow, token)
    res = await uow.conn.execute(
        sa.update(RewardLink)
        .where(RewardLink.card_id == card.id)
        .values(
            reveal_count=RewardLink.reveal_count + 1,
            first_revealed_at=sa.func.coalesce(RewardLink.first_revealed_at, uow.now),
            last_revealed_at=uow.now,
        )
        .returning(
            RewardLink.first_opened_at, RewardLink.last_opened_at, RewardLink.open_count, RewardLink.reveal_count
        )
    )
    r = res.one()
    await events.record(
        uow,
        account_id=link.account_id,
        type="reward.revealed",
        subject_id=card.id,
        data={"card": card.id, "reveal_count": int(r.reveal_count)},
    )
    code, pin = await cards.reveal_code(uow, account_id=card.account_id, card_id=card.id)
    view = LinkView(
        card, link.account_id, link.locale, r.first_opened_at, r.last_opened_at, r.open_count, r.reveal_count
    )
    return Revealed(view, code, pin)


async def link_stats(uow: UnitOfWork, card_id: str) -> dict[str, Any] | None:
    row = (await uow.conn.execute(sa.select(RewardLink).where(RewardLink.card_id == card_id))).first()
    if row is None:
        return None
    return {
        "first_opened_at": row.first_opened_at,
        "last_opened_at": row.last_opened_at,
        "open_count": int(row.open_count),
        "reveal_count": int(row.reveal_count),
        "last_revealed_at": row.last_revealed_at,
    }


async def last_delivery(uow: UnitOfWork, card_id: str) -> Any:
    """The card's latest delivery (its message, names and picture are what the page shows)."""
    from giftwell.store.models import Delivery

    q = sa.select(Delivery).where(Delivery.card_id == card_id).order_by(Delivery.created_at.desc(), Delivery.id.desc())
    return (await uow.conn.execute(q.limit(1))).first()
