"""Text search over cards: each card's names, emails, code suffix and metadata values, and those
of its email deliveries, kept in `card_search` (one lowercased line each) and searched by
substring through a trigram index (PostgreSQL `pg_trgm` GIN, SQLite FTS5 `trigram`; migration
`i14_card_search`). Every word of a search must appear in the card's text (any case).

`index` and `add` are steps for the transaction that issues the card or records its delivery;
`condition` is the card query's `text` condition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from giftwell.domain.card_query import search_body
from giftwell.store.models import Card as CardRow
from giftwell.store.models import CardSearch
from giftwell.store.uow import UnitOfWork


async def index(uow: UnitOfWork, *, account_id: str, card_id: str, terms: Iterable[str | None]) -> None:
    """The new card's searchable text."""
    await uow.conn.execute(
        sa.insert(CardSearch).values(card_id=card_id, account_id=account_id, body=search_body(None, terms))
    )


async def add(uow: UnitOfWork, *, account_id: str, card_id: str, terms: Iterable[str | None]) -> None:
    """Add `terms` (a delivery's address and names) to a card's searchable text."""
    body = await uow.conn.scalar(sa.select(CardSearch.body).where(CardSearch.card_id == card_id))
    new = search_body(body, terms)
    if body is None:
        await uow.conn.execute(sa.insert(CardSearch).values(card_id=card_id, account_id=account_id, body=new))
    elif new != body:
        await uow.conn.execute(sa.update(CardSearch).where(CardSearch.card_id == card_id).values(body=new))


def condition(uow: UnitOfWork, account_id: str, words: Sequence[str]) -> sa.ColumnElement[bool]:
    """The account's cards whose text holds every word (lowercased, 3 characters or more)."""
    found = sa.select(CardSearch.card_id).where(CardSearch.account_id == account_id)
    if uow.conn.dialect.name == "sqlite":
        # FTS5's trigram tokenizer: each quoted word is a substring, ANDed.
        phrase = " AND ".join('"' + w.replace('"', '""') + '"' for w in words)
        fts = sa.text("SELECT rowid FROM card_search_fts WHERE card_search_fts MATCH :phrase").bindparams(phrase=phrase)
        found = found.where(sa.literal_column("card_search.rowid").in_(fts))
    else:
        # pg_trgm's GIN index answers LIKE '%word%' (the body is lowercased already).
        found = found.where(*(CardSearch.body.contains(w, autoescape=True) for w in words))
    return CardRow.id.in_(found)
