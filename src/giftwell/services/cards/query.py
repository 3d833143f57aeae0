"""The card query: a filter tree (`domain.card_query`) compiled to SQL within one account, sorted
on any indexed field with the id as tiebreak, paged by cursor, and counted with the same filter.

Every condition is scoped to the account and answered by an index (the migration
`i14_card_query` adds them): a code by its keyed hash, an email or name on the card and on each of
its deliveries, metadata through `card_metadata`. A filter no index anchors is refused
(`QueryNotIndexed`) before anything runs. Every compiled condition is true or false, never NULL,
so `not` and `ne` mean what they say on cards whose field is empty.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.util import ClauseAdapter

from giftwell.domain import card_query as q
from giftwell.domain.cards import Card
from giftwell.domain.delivery import Channel
from giftwell.domain.ledger import AccountKind
from giftwell.services.access import guessing
from giftwell.services.cards import expiry, text
from giftwell.services.cards.reads import card_from_row, select_cards
from giftwell.services.currencies import currency as check_currency
from giftwell.services.pagination import Kind, Page, Sort, check_limit, paginate
from giftwell.services.runtime import Runtime
from giftwell.store.models import Card as CardRow
from giftwell.store.models import CardMetadata, Delivery, LedgerAccount
from giftwell.store.uow import UnitOfWork

# The column of each plain field (names compare lowercased, as their indexes are built).
COLUMNS: dict[str, Any] = {
    "id": CardRow.id,
    "code_suffix": CardRow.code_last4,
    "status": CardRow.status,
    "currency": CardRow.currency,
    "balance": LedgerAccount.balance,
    "initial_amount": CardRow.initial_amount,
    "created_at": CardRow.created_at,
    "updated_at": CardRow.updated_at,
    "expires_at": CardRow.expires_at,
    "disabled_at": CardRow.disabled_at,
    "source": CardRow.source,
    "sender_email": CardRow.sender_email,
    "recipient_email": CardRow.recipient_email,
    "sender_name": sa.func.lower(CardRow.sender_name),
    "recipient_name": sa.func.lower(CardRow.recipient_name),
}
# The same fields on a delivery of the card (a recipient named later, by send or resend).
DELIVERY_COLUMNS: dict[str, Any] = {
    "recipient_email": Delivery.to,
    "recipient_name": sa.func.lower(Delivery.recipient_name),
    "sender_name": sa.func.lower(Delivery.sender_name),
}
_KINDS = {q.Kind.INT: Kind.INT, q.Kind.TIME: Kind.TIME}
_INNER = CardRow.__table__.alias("own")
T = TypeVar("T")


def sorted_select(stmt: sa.Select[Any], key: q.SortKey) -> tuple[sa.Select[Any], Sort]:
    """`stmt` (cards joined to their ledger accounts) ready for `key`'s order, and that order:
    names by their lowercased form, `metadata.<key>` by the value of that key (an outer join on
    `card_metadata`, whose index orders it; cards without the key come last going up)."""
    f = key.field
    if f.kind is q.Kind.META:
        meta = CardMetadata.__table__.alias("sort_meta")
        stmt = stmt.outerjoin(meta, sa.and_(meta.c.card_id == CardRow.id, meta.c.key == key.key))
        col = meta.c.value.label("sort_value")
    else:
        col = COLUMNS[f.name]
        if f.kind is q.Kind.NAME:
            col = col.label("sort_value")
    if isinstance(col, sa.Label):
        stmt = stmt.add_columns(col)
    return stmt, Sort(key.name, col, _KINDS.get(f.kind, Kind.STR), CardRow.id, nullable=f.nullable)


@dataclass(frozen=True, slots=True)
class CardQuery:
    """A checked query: its filter tree and sort."""

    filter: q.Node | None
    sort: q.SortKey


def prepare(filter: Any, sort: Any = "-created_at") -> CardQuery:
    """Parse and check a filter and sort from outside; `ValidationFailed` or `QueryNotIndexed`."""
    node = q.parse(filter)
    q.require_anchored(node)
    _check_currencies(node)
    return CardQuery(node, q.sort_key(sort))


def _check_currencies(node: q.Node | None) -> None:
    if isinstance(node, q.Cond) and node.field.kind is q.Kind.CURRENCY and node.op != q.EXISTS:
        for v in node.value if node.op == q.IN else (node.value,):
            check_currency(v)
    elif isinstance(node, (q.And, q.Or)):
        for p in node.parts:
            _check_currencies(p)
    elif isinstance(node, q.Not):
        _check_currencies(node.part)


def _base(account_id: str) -> sa.Select[Any]:
    return select_cards().where(
        CardRow.account_id == account_id,
        LedgerAccount.account_id == account_id,
        LedgerAccount.kind == AccountKind.CARD.value,
    )


async def query_cards(
    uow: UnitOfWork, *, account_id: str, query: CardQuery, limit: int = 20, cursor: str | None = None
) -> Page[Card]:
    """One page of the account's cards matching `query`, in its sort order."""
    check_limit(limit)
    stmt, sort = sorted_select(_base(account_id), query.sort)
    if query.filter is not None:
        stmt = stmt.where(compile_filter(uow, account_id, query.filter))
    return await paginate(uow, stmt, sort=sort, limit=limit, cursor=cursor, convert=card_from_row)


async def count_cards(uow: UnitOfWork, *, account_id: str, query: CardQuery) -> int:
    """How many of the account's cards match `query`'s filter."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(CardRow)
        .join(LedgerAccount, LedgerAccount.id == CardRow.ledger_account_id)
        .where(
            CardRow.account_id == account_id,
            LedgerAccount.account_id == account_id,
            LedgerAccount.kind == AccountKind.CARD.value,
        )
    )
    if query.filter is not None:
        stmt = stmt.where(compile_filter(uow, account_id, query.filter))
    return int((await uow.conn.execute(stmt)).scalar_one())


def compile_filter(uow: UnitOfWork, account_id: str, node: q.Node) -> sa.ColumnElement[bool]:
    if isinstance(node, q.And):
        return sa.and_(*(compile_filter(uow, account_id, p) for p in node.parts))
    if isinstance(node, q.Or):
        return sa.or_(*(compile_filter(uow, account_id, p) for p in node.parts))
    if isinstance(node, q.Not):
        return sa.not_(compile_filter(uow, account_id, node.part))
    return _cond(uow, account_id, node)


def _cond(uow: UnitOfWork, account_id: str, c: q.Cond) -> sa.ColumnElement[bool]:
    # `ne` and `exists: false` are the negation of `eq` and `exists: true`, over all the places
    # the field lives (the card, its deliveries, its metadata rows).
    if c.op == q.NE:
        return sa.not_(_cond(uow, account_id, q.Cond(c.field, q.EQ, c.value, c.key)))
    if c.op == q.EXISTS and c.value is False:
        return sa.not_(_cond(uow, account_id, q.Cond(c.field, q.EXISTS, True, c.key)))
    f = c.field
    special = _SPECIAL.get(f.kind)
    if special is not None:
        return special(uow, account_id, c)
    col = COLUMNS[f.name]
    on_card = _compare(col, c.op, c.value) if c.op != q.EXISTS else (col.is_not(None) if f.nullable else sa.true())
    if f.nullable and c.op != q.EXISTS:
        on_card = sa.and_(col.is_not(None), on_card)
    other = DELIVERY_COLUMNS.get(f.name)
    if other is None:
        return on_card
    deliveries = sa.select(Delivery.card_id).where(
        Delivery.card_account_id == account_id,
        # A choice link's delivery carries no card: a NULL here would make a `not` of this
        # condition (NOT IN) match nothing at all.
        Delivery.card_id.is_not(None),
        _compare(other, c.op, c.value) if c.op != q.EXISTS else other.is_not(None),
    )
    if f.kind is q.Kind.EMAIL:
        deliveries = deliveries.where(Delivery.channel == Channel.EMAIL.value)
    # One set of ids from both indexes (the card's column, the deliveries'), not an OR the
    # planner can only answer by filtering every card of the account.
    own = sa.select(_INNER.c.id).where(_INNER.c.account_id == account_id, ClauseAdapter(_INNER).traverse(on_card))
    return CardRow.id.in_(sa.union_all(own, deliveries))


def _meta(uow: UnitOfWork, account_id: str, c: q.Cond) -> sa.ColumnElement[bool]:
    rows = sa.select(CardMetadata.card_id).where(CardMetadata.account_id == account_id, CardMetadata.key == c.key)
    if c.op != q.EXISTS:
        rows = rows.where(_compare(CardMetadata.value, c.op, c.value))
    return CardRow.id.in_(rows)


def _text(uow: UnitOfWork, account_id: str, c: q.Cond) -> sa.ColumnElement[bool]:
    return text.condition(uow, account_id, c.value)


def _code(uow: UnitOfWork, account_id: str, c: q.Cond) -> sa.ColumnElement[bool]:
    """A code only by its keyed hash (every configured secret's, during a key rotation)."""
    if c.op == q.EXISTS:
        return sa.true()
    values = c.value if c.op == q.IN else (c.value,)
    digests = [d for v in values for d in uow.rt.keys.code_hashes(account_id, v)]
    return CardRow.code_hash.in_(digests)


_SPECIAL: dict[q.Kind, Callable[[UnitOfWork, str, q.Cond], sa.ColumnElement[bool]]] = {
    q.Kind.CODE: _code,
    q.Kind.META: _meta,
    q.Kind.TEXT: _text,
}


def _compare(col: Any, op: str, value: Any) -> sa.ColumnElement[bool]:
    if op == q.EQ:
        return col == value  # type: ignore[no-any-return]
    if op == q.IN:
        return col.in_(value)  # type: ignore[no-any-return]
    if op == q.STARTS:
        # A range the index answers, and the LIKE that makes it exact under any collation.
        upper = value[:-1] + chr(ord(value[-1]) + 1)
        return sa.and_(col >= value, col < upper, col.startswith(value, autoescape=True))
    return {"gt": col > value, "gte": col >= value, "lt": col < value, "lte": col <= value}[op]  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks (token and address), for the guessing guard: a query naming full codes is a code
    lookup like any other (`services.access.guessing`)."""

    client: str | None
    ip: str | None


def names_codes(node: q.Node | None) -> bool:
    """Whether the filter matches full codes (`code` eq or in), anywhere in it."""
    if isinstance(node, q.Cond):
        return node.field.kind is q.Kind.CODE and node.op in (q.EQ, q.IN)
    if isinstance(node, (q.And, q.Or)):
        return any(names_codes(p) for p in node.parts)
    if isinstance(node, q.Not):
        return names_codes(node.part)
    return False


async def _guarded(rt: Runtime, query: CardQuery, caller: Caller | None, run: Callable[[], Awaitable[T]]) -> T:
    """Run a read; when its filter names full codes, under the guessing guard: refused once the
    caller is out of attempts, and one failed attempt counted when it finds nothing."""
    if caller is None or not names_codes(query.filter):
        return await run()
    await guessing.check(rt, client=caller.client, ip=caller.ip)
    result = await run()
    if not (result.data if isinstance(result, Page) else result):
        await guessing.record_failure(rt, client=caller.client, ip=caller.ip)
    return result


async def find(
    rt: Runtime,
    *,
    account_id: str,
    query: CardQuery,
    limit: int = 20,
    cursor: str | None = None,
    caller: Caller | None = None,
) -> Page[Card]:
    """`query_cards` as a procedure: the account's due cards expired first, so none shows as
    active past its date; under the guessing guard when it names full codes."""
    await expiry.settle_account(rt, account_id=account_id)

    async def run() -> Page[Card]:
        async with rt.reader() as uow:
            return await query_cards(uow, account_id=account_id, query=query, limit=limit, cursor=cursor)

    return await _guarded(rt, query, caller, run)


async def count(rt: Runtime, *, account_id: str, query: CardQuery, caller: Caller | None = None) -> int:
    """`count_cards` as a procedure, after expiring the account's due cards; guarded like `find`."""
    await expiry.settle_account(rt, account_id=account_id)

    async def run() -> int:
        async with rt.reader() as uow:
            return await count_cards(uow, account_id=account_id, query=query)

    return await _guarded(rt, query, caller, run)
