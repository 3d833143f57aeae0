"""A redemption on SQLite in one trip to the database thread: the card's checks, the guarded
balance update (`UPDATE ... RETURNING`), the transfer and the `card.redeemed` event run on the
raw `sqlite3` connection inside one call handed to aiosqlite's thread, where the general path
makes five statements through SQLAlchemy, each its own thread hop.

Same guarantees as the general path (`money.redeem`) and as PostgreSQL's one statement
(`redeem_fast`): the card is the caller's, active, not past its expiry and not a test card, and
`balance - pending_out >= amount` is checked by the UPDATE itself. SQLite has one writer: alone
(in a read-only unit of work, autocommit) the call opens its own `BEGIN IMMEDIATE`, which takes
the write lock before the card is read, so nothing can change the card between its checks and its
update (other processes wait on `busy_timeout`); inside a unit of work's transaction (begun
IMMEDIATE by the engine) it runs in that transaction. When it changes nothing (any refusal, the
issuer's redemption account not made yet, or, alone, an account with webhook endpoints whose
deliveries must commit with the event) it says nothing about why and writes nothing: the caller
runs the general path, which raises the precise error.

The statements are constant strings with named parameters, so `sqlite3`'s per-connection
statement cache prepares each once.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

import orjson

from giftwell.store.uow import UnitOfWork

_CARD = """
SELECT c.id, c.account_id, c.ledger_account_id, c.code_last4, c.currency, c.initial_amount, c.status,
       c.status_reason, c.activated_at, c.expires_at, c.source, c.test, c.serial, c.pin_encrypted,
       c.sender_name, c.sender_email, c.recipient_name, c.recipient_email, c.metadata, c.created_at,
       c.updated_at, c.disabled_at, sys.id AS sys_id,
       EXISTS (SELECT 1 FROM webhook_endpoints w
                WHERE w.account_id = :account_id AND w.deleted_at IS NULL) AS hooks
  FROM cards c
  JOIN ledger_accounts sys
    ON sys.account_id = c.account_id AND sys.kind = :sys_kind AND sys.currency = c.currency
 WHERE c.id = :card_id AND c.account_id = :account_id
   AND c.status = 'active' AND NOT c.test
   AND (c.expires_at IS NULL OR c.expires_at > :now)
"""

_UPDATE = """
UPDATE ledger_accounts SET balance = balance - :amount
 WHERE id = :la_id AND balance - pending_out >= :amount
RETURNING balance, pending_out
"""

_TRANSFER = """
INSERT INTO transfers (id, account_id, kind, status, currency, amount, debit_account_id,
                       credit_account_id, card_id, counterparty_card_id, debit_balance_after,
                       credit_balance_after, hold_amount, expires_at, refund_of, refunded_amount,
                       reference, reason, created_at, posted_at)
VALUES (:transfer_id, :account_id, 'redeem', 'posted', :currency, :amount, :la_id, :sys_id, :card_id,
        NULL, :balance, NULL, NULL, NULL, NULL, 0, :reference, NULL, :now, :now)
"""

_EVENT = """
INSERT INTO events (id, account_id, type, subject_id, data, created_at)
VALUES (:event_id, :account_id, :event_type, :card_id, :data, :now)
"""

_ENDPOINTS = """
SELECT id, events, format, enabled FROM webhook_endpoints
 WHERE account_id = :account_id AND deleted_at IS NULL
"""

_GET = """
SELECT c.id, c.account_id, c.ledger_account_id, c.code_last4, c.currency, c.initial_amount, c.status,
       c.status_reason, c.activated_at, c.expires_at, c.source, c.test, c.serial, c.pin_encrypted,
       c.sender_name, c.sender_email, c.recipient_name, c.recipient_email, c.metadata, c.created_at,
       c.updated_at, c.disabled_at, la.balance, la.pending_out
  FROM cards c JOIN ledger_accounts la ON la.id = c.ledger_account_id
 WHERE c.id = ? AND c.account_id = ?
"""

_DATETIMES = ("activated_at", "expires_at", "created_at", "updated_at", "disabled_at")


def stored_time(at: datetime) -> str:
    """A UTC instant as SQLAlchemy stores it in SQLite (naive UTC, microseconds), so that the
    comparisons with stored times are the same as the general path's."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _redeem(db: sqlite3.Connection, p: dict[str, Any], alone: bool) -> dict[str, Any] | None:
    """Runs in aiosqlite's thread, on its `sqlite3` connection."""
    if alone:
        db.execute("BEGIN IMMEDIATE")
    try:
        cur = db.execute(_CARD, p)
        names = [d[0] for d in cur.description]
        found = cur.fetchone()
        if found is None:
            return _nothing(db, alone)
        card = dict(zip(names, found, strict=True))
        if alone and card["hooks"]:
            return _nothing(db, alone)
        p["la_id"], p["sys_id"], p["currency"] = card["ledger_account_id"], card["sys_id"], card["currency"]
        after = db.execute(_UPDATE, p).fetchone()
        if after is None:
            return _nothing(db, alone)
        card["balance"], card["pending_out"] = after
        p["balance"] = after[0]
        p["data"] = orjson.dumps(
            {
                "card": p["card_id"],
                "transfer": p["transfer_id"],
                "amount": p["amount"],
                "currency": p["currency"],
                "status": "posted",
            }
        ).decode()
        db.execute(_TRANSFER, p)
        db.execute(_EVENT, p)
        card["endpoints"] = db.execute(_ENDPOINTS, p).fetchall() if card["hooks"] else []
        if alone:
            db.execute("COMMIT")
    except BaseException:
        if alone and db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return card


def _nothing(db: sqlite3.Connection, alone: bool) -> dict[str, Any] | None:
    """Nothing was written (the guarded update is the first write, and it matched no row): the
    transaction of its own, if any, ends; the answer is None."""
    if alone:
        db.execute("ROLLBACK")
    return None


def _get(db: sqlite3.Connection, card_id: str, account_id: str) -> dict[str, Any] | None:
    cur = db.execute(_GET, (card_id, account_id))
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))


async def get_card(uow: UnitOfWork, *, account_id: str, card_id: str) -> dict[str, Any] | None:
    """The caller's card row as `card_from_row` reads it (None when there is none), read in one
    trip to aiosqlite's thread (through SQLAlchemy a read is four: cursor, execute, fetch, close).
    In the unit of work's transaction, if it has one."""
    driver: Any = (await uow.conn.get_raw_connection()).driver_connection
    card = await driver._execute(_get, driver._conn, card_id, account_id)
    return None if card is None else _decoded(card)


def _decoded(card: dict[str, Any]) -> dict[str, Any]:
    """SQLite's text columns as the types SQLAlchemy would give (UTC datetimes, JSON)."""
    for name in _DATETIMES:
        card[name] = _time(card[name])
    card["metadata"] = orjson.loads(card["metadata"]) if card["metadata"] is not None else None
    return card


async def redeem(uow: UnitOfWork, params: dict[str, Any]) -> tuple[dict[str, Any], list[Any]] | None:
    """The card's row after the redemption (its columns as `card_from_row` reads them, `sys_id`)
    and the account's webhook endpoints as (id, events, format, enabled); None when nothing
    changed. `params` as `redeem_fast` builds them."""
    alone = uow.read_only  # autocommit: the call is the whole transaction
    p = {
        "sys_kind": params["sys_kind"],
        "card_id": params["card_id"],
        "account_id": params["account_id"],
        "now": stored_time(params["now"]),
        "amount": params["amount"],
        "transfer_id": params["transfer_id"],
        "reference": params["reference"],
        "event_id": params["event_id"],
        "event_type": params["event_type"],
    }
    driver: Any = (await uow.conn.get_raw_connection()).driver_connection
    # aiosqlite runs every call on its connection in one thread, in order; `_execute` queues one
    # function there, so the whole redemption is one hop instead of one per statement.
    card = await driver._execute(_redeem, driver._conn, p, alone)
    if card is None:
        return None
    _decoded(card)
    endpoints = [(e[0], orjson.loads(e[1]), e[2], bool(e[3])) for e in card.pop("endpoints")]
    return card, endpoints
