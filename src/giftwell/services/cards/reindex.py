"""Rebuilding what the card query reads beside the cards: each card's searchable text
(`card_search`), its metadata rows (`card_metadata`) and `disabled_at`. The migrations fill them
once; cards issued, sent or disabled by a previous version while a PostgreSQL upgrade rolled out
(docs/operations.md, Upgrades) are caught up by `giftwell db reindex-cards`, which runs this.

A procedure: one transaction per batch of cards, in id order, so it can be stopped and run again.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from giftwell.domain.card_query import search_body
from giftwell.domain.cards import CardStatus, Party
from giftwell.domain.delivery import Channel
from giftwell.services.runtime import Runtime
from giftwell.store.models import Card as CardRow
from giftwell.store.models import CardMetadata, CardSearch, Delivery
from giftwell.store.uow import UnitOfWork

BATCH = 500


def metadata_rows(account_id: str, card_id: str, metadata: dict[str, Any]) -> list[dict[str, str]]:
    """`card_metadata` rows of a card: string values as they are, others as their JSON text;
    keys over 40 characters and values over 500 are not searchable."""
    rows = []
    for key, value in metadata.items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        if isinstance(key, str) and 1 <= len(key) <= 40 and len(text) <= 500:
            rows.append({"card_id": card_id, "key": key, "account_id": account_id, "value": text})
    return rows


def card_terms(recipient: Party, sender: Party, last4: str, metadata: dict[str, Any]) -> list[str | None]:
    """What a card's searchable text holds of the card itself."""
    values = [v if isinstance(v, str) else json.dumps(v) for v in metadata.values()]
    return [recipient.name, recipient.email, sender.name, sender.email, last4, *values]


async def _batch(uow: UnitOfWork, after: str, size: int) -> tuple[str, int] | None:
    rows = (
        await uow.conn.execute(
            sa.select(CardRow).where(CardRow.id > after).order_by(CardRow.id).limit(size).with_for_update()
        )
    ).all()
    if not rows:
        return None
    ids = [r.id for r in rows]
    sent: dict[str, list[str | None]] = {}
    for d in await uow.conn.execute(
        sa.select(Delivery.card_id, Delivery.to, Delivery.recipient_name, Delivery.sender_name)
        .where(Delivery.card_id.in_(ids), Delivery.channel == Channel.EMAIL.value)
        .order_by(Delivery.created_at, Delivery.id)
    ):
        if d[0] is not None:  # (the `in_` above already leaves out a choice link's deliveries)
            sent.setdefault(d[0], []).extend(d[1:])
    await uow.conn.execute(sa.delete(CardSearch).where(CardSearch.card_id.in_(ids)))
    await uow.conn.execute(sa.delete(CardMetadata).where(CardMetadata.card_id.in_(ids)))
    search, meta = [], []
    for r in rows:
        md = r.metadata or {}
        parties = Party(r.recipient_name, r.recipient_email), Party(r.sender_name, r.sender_email)
        body = search_body(None, [*card_terms(*parties, r.code_last4, md), *sent.get(r.id, [])])
        search.append({"card_id": r.id, "account_id": r.account_id, "body": body})
        meta += metadata_rows(r.account_id, r.id, md)
    await uow.conn.execute(sa.insert(CardSearch), search)
    if meta:
        await uow.conn.execute(sa.insert(CardMetadata), meta)
    await uow.conn.execute(
        sa.update(CardRow)
        .where(CardRow.id.in_(ids), CardRow.status == CardStatus.DISABLED.value, CardRow.disabled_at.is_(None))
        .values(disabled_at=CardRow.updated_at)
    )
    return str(ids[-1]), len(ids)


async def reindex(rt: Runtime, *, batch: int = BATCH) -> int:
    """Rebuild every card's search text and metadata rows (and a missing `disabled_at`); the
    number of cards seen."""
    after, seen = "", 0
    while True:
        async with rt.uow() as uow:
            done = await _batch(uow, after, batch)
            await uow.commit()
        if done is None:
            return seen
        after, n = done
        seen += n
