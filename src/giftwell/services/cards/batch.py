"""Many active cards at once, each made as `issuing.issue` makes one with a value, written with a
few multi-row statements: what bulk issue (`cards.bulk`) and order fulfilment
(`orders.fulfilment`) share.

`CardBatch.add` builds one card's rows in memory (no database: bulk issue builds the next batch
in a thread while the last one is written): its code generated from the format and stored
only as the account-scoped keyed hash and AES-GCM ciphertext bound to the card id (exactly as
any card's, so lookups by code and `keys rotate` work on it), its guarded ledger account with the
value already in it, its `activate` transfer from the issuer's issuance account (a system account:
its balance derives from the transfers, as `transfers.post` leaves it), the card query's metadata
rows and searchable text, and, when asked, its `card.created` and `card.activated` events.
`write` inserts them in the caller's transaction: COPY on PostgreSQL (asyncpg's binary copy),
one executemany per table on SQLite; the events' webhook deliveries are made as `events.record`
makes them (only when the account has endpoints, one event at a time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from giftwell.domain import codes
from giftwell.domain.card_query import search_body
from giftwell.domain.cards import CardSource, CardStatus, Party
from giftwell.domain.ids import new_id
from giftwell.domain.ledger import AccountKind, TransferKind, TransferStatus
from giftwell.keys import Keys
from giftwell.services import events
from giftwell.services.cards import reindex
from giftwell.store.models import Card as CardRow
from giftwell.store.models import CardMetadata, CardSearch, Event, LedgerAccount, Transfer
from giftwell.store.uow import UnitOfWork

JSON_COLUMNS = frozenset({"metadata", "data"})


@dataclass(slots=True)
class CardBatch:
    """The rows of a batch of new active cards, not yet written."""

    keys: Keys
    now: datetime
    with_events: bool = False
    accounts: list[tuple[Any, ...]] = field(default_factory=list)
    cards: list[tuple[Any, ...]] = field(default_factory=list)
    moves: list[tuple[Any, ...]] = field(default_factory=list)
    metas: list[tuple[Any, ...]] = field(default_factory=list)
    searches: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.cards)

    def add(
        self,
        *,
        account_id: str,
        issuance_id: str,
        currency: str,
        amount: int,
        code_format: codes.CodeFormat = codes.DEFAULT_FORMAT,
        expires_at: datetime | None = None,
        sender: Party = Party(None, None),  # noqa: B008 (frozen)
        recipient: Party = Party(None, None),  # noqa: B008 (frozen)
        metadata: dict[str, Any] | None = None,
        source: CardSource = CardSource.MANUAL,
        test: bool = False,
    ) -> tuple[str, str]:
        """One active card of `amount` (positive, checked by the caller), funded from the issuer's
        issuance ledger account `issuance_id`; its id and its code in the clear."""
        keys, now, meta = self.keys, self.now, metadata or {}
        code = codes.generate(code_format)
        last4 = codes.last4(code)
        card_id, la_id = new_id("card"), new_id("la")
        self.accounts.append((la_id, account_id, AccountKind.CARD.value, currency, amount, 0, now))
        self.cards.append(
            (
                card_id, account_id, la_id, keys.code_hash(account_id, codes.normalize(code)),
                keys.encrypt(code, aad=f"code:{card_id}"), last4, None, None, currency, amount,
                CardStatus.ACTIVE.value, None, now, expires_at, source.value, test, sender.name, sender.email,
                recipient.name, recipient.email, meta, now, now,
            )
        )  # fmt: skip
        self.metas.extend(tuple(m.values()) for m in reindex.metadata_rows(account_id, card_id, meta))
        self.searches.append(
            (card_id, account_id, search_body(None, reindex.card_terms(recipient, sender, last4, meta)))
        )
        if self.with_events:
            created = {"card": card_id, "currency": currency, "amount": amount, "status": CardStatus.ACTIVE.value}
            self.events.append((new_id("evt"), account_id, "card.created", card_id, created, now))
        self.moves.append(
            (
                new_id("trf"), account_id, TransferKind.ACTIVATE.value, TransferStatus.POSTED.value, currency, amount,
                issuance_id, la_id, card_id, None, None, amount, None, None, None, 0, None, None, now, now,
            )
        )  # fmt: skip
        if self.with_events:
            activated = {"card": card_id, "amount": amount, "currency": currency}
            self.events.append((new_id("evt"), account_id, "card.activated", card_id, activated, now))
        return card_id, code

    async def write(self, uow: UnitOfWork) -> None:
        """Insert every row built so far, in the caller's transaction."""
        await insert(uow, LedgerAccount.__table__, _LA_COLUMNS, self.accounts)
        await insert(uow, CardRow.__table__, _CARD_COLUMNS, self.cards)
        await insert(uow, Transfer.__table__, _TRANSFER_COLUMNS, self.moves)
        await insert(uow, CardMetadata.__table__, ("card_id", "key", "account_id", "value"), self.metas)
        await insert(uow, CardSearch.__table__, ("card_id", "account_id", "body"), self.searches)
        if self.events:
            await insert(
                uow, Event.__table__, ("id", "account_id", "type", "subject_id", "data", "created_at"), self.events
            )
            await _fan_out(uow, self.events)


async def _fan_out(uow: UnitOfWork, rows: list[tuple[Any, ...]]) -> None:
    """The webhook deliveries of the events just inserted, as `events.record` makes them; the
    endpoints read once per account (none, usually: then nothing more is written)."""
    endpoints: dict[str, list[events.Endpoint]] = {}
    for event_id, account_id, type_, _, _, created_at in rows:
        if account_id not in endpoints:
            found = await uow.conn.execute(events.ENDPOINTS, {"account_id": account_id})
            endpoints[account_id] = [(r.id, r.events, r.format, bool(r.enabled)) for r in found.all()]
        if endpoints[account_id]:
            await events.deliver_to(
                uow,
                endpoints[account_id],
                event_id=event_id,
                account_id=account_id,
                event_type=type_,
                created_at=created_at,
            )


_LA_COLUMNS = ("id", "account_id", "kind", "currency", "balance", "pending_out", "created_at")
_CARD_COLUMNS = (
    "id", "account_id", "ledger_account_id", "code_hash", "code_encrypted", "code_last4", "pin_encrypted",
    "serial", "currency", "initial_amount", "status", "status_reason", "activated_at", "expires_at", "source",
    "test", "sender_name", "sender_email", "recipient_name", "recipient_email", "metadata", "created_at",
    "updated_at",
)  # fmt: skip
_TRANSFER_COLUMNS = (
    "id", "account_id", "kind", "status", "currency", "amount", "debit_account_id", "credit_account_id",
    "card_id", "counterparty_card_id", "debit_balance_after", "credit_balance_after", "hold_amount",
    "expires_at", "refund_of", "refunded_amount", "reference", "reason", "created_at", "posted_at",
)  # fmt: skip


async def insert(uow: UnitOfWork, table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Insert `rows` (tuples in the order of `columns`) into `table` in the caller's transaction:
    COPY on PostgreSQL, an executemany on SQLite."""
    if not rows:
        return
    if uow.dialect == "postgresql":
        # COPY on the transaction's own connection (a statement before has begun the transaction).
        raw = await uow.conn.get_raw_connection()
        driver: Any = raw.driver_connection
        jsonb = [i for i, c in enumerate(columns) if c in JSON_COLUMNS]
        if jsonb:
            rows = [tuple(orjson.dumps(v).decode() if i in jsonb else v for i, v in enumerate(r)) for r in rows]
        await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))
        return
    keys = [table.c[c].key for c in columns]
    await uow.conn.execute(sa.insert(table), [dict(zip(keys, r, strict=True)) for r in rows])
