"""A redemption on PostgreSQL in one statement: the card's checks, the guarded balance update, the
transfer, the event, and the read of the account's webhook endpoints, as one data-modifying CTE
(one round trip where the general path makes five).

Same guards as the general path (`money.redeem`): the card is the caller's, active, not past its
expiry and not a test card, and `balance - pending_out >= amount` is checked on the locked row
(PostgreSQL re-checks an UPDATE's condition on the newest version of the row it waited for), so
two redemptions racing on one card can never both take the last of it. When the statement
changes nothing (a refusal of any kind, or the issuer's redemption account not made yet) it says
nothing about why: the caller runs the general path, which raises the precise error or, on a
first redemption in a currency, creates that account. SQLite has its own path with the same
guarantees and the same result (`redeem_sqlite`: the raw `sqlite3` connection, one thread hop).
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import orjson
import sqlalchemy as sa

from giftwell.domain.cards import Card
from giftwell.domain.ids import new_id
from giftwell.domain.ledger import AccountKind, Transfer, TransferKind, TransferStatus
from giftwell.services import events
from giftwell.services.cards import redeem_sqlite
from giftwell.services.cards.reads import card_from_row
from giftwell.store.models.base import JsonType, UtcDateTime
from giftwell.store.uow import UnitOfWork

EVENT = "card.redeemed"

_SQL = """
WITH c AS (
    SELECT cards.*, sys.id AS sys_id
      FROM cards
      JOIN ledger_accounts sys
        ON sys.account_id = cards.account_id AND sys.kind = :sys_kind AND sys.currency = cards.currency
     WHERE cards.id = :card_id AND cards.account_id = :account_id
       AND cards.status = 'active' AND NOT cards.test
       AND (cards.expires_at IS NULL OR cards.expires_at > :now)
       {alone}
), upd AS (
    UPDATE ledger_accounts la
       SET balance = la.balance - :amount
      FROM c
     WHERE la.id = c.ledger_account_id AND la.balance - la.pending_out >= :amount
 RETURNING la.balance, la.pending_out
), t AS (
    INSERT INTO transfers (id, account_id, kind, status, currency, amount, debit_account_id,
                           credit_account_id, card_id, counterparty_card_id, debit_balance_after,
                           credit_balance_after, hold_amount, expires_at, refund_of, refunded_amount,
                           reference, reason, created_at, posted_at)
    SELECT :transfer_id, :account_id, 'redeem', 'posted', c.currency, :amount, c.ledger_account_id,
           c.sys_id, c.id, NULL, upd.balance, NULL, NULL, NULL, NULL, 0, :reference, NULL, :now, :now
      FROM c, upd
 RETURNING id
), e AS (
    INSERT INTO events (id, account_id, type, subject_id, data, created_at)
    SELECT :event_id, :account_id, :event_type, c.id,
           jsonb_build_object('card', c.id, 'transfer', t.id, 'amount', :amount, 'currency', c.currency,
                              'status', 'posted'),
           :now
      FROM c, t
 RETURNING id
)
SELECT c.id, c.account_id, c.ledger_account_id, c.code_last4, c.currency, c.initial_amount, c.status,
       c.status_reason, c.activated_at, c.expires_at, c.source, c.test, c.serial, c.pin_encrypted,
       c.sender_name, c.sender_email, c.recipient_name, c.recipient_email, c.metadata, c.created_at,
       c.updated_at, c.disabled_at, c.sys_id, upd.balance, upd.pending_out, (SELECT count(*) FROM e) AS events,
       (SELECT coalesce(json_agg(json_build_array(w.id, w.events, w.format, w.enabled)), '[]')::text
          FROM webhook_endpoints w
         WHERE w.account_id = :account_id AND w.deleted_at IS NULL) AS endpoints
  FROM c, upd
"""

# Run alone (autocommit), the statement must be the whole of the redemption: an account with
# webhook endpoints needs their deliveries in the same transaction, so it is left to the other.
_ALONE = "AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.account_id = :account_id AND w.deleted_at IS NULL)"


def _statement(alone: bool) -> Any:
    """Built once each, typed so that asyncpg binds each parameter as the column it is compared with."""
    return (
        sa.text(_SQL.replace("{alone}", _ALONE if alone else ""))
        .bindparams(
            sa.bindparam("sys_kind", type_=sa.String()),
            sa.bindparam("card_id", type_=sa.String()),
            sa.bindparam("account_id", type_=sa.String()),
            sa.bindparam("now", type_=UtcDateTime()),
            sa.bindparam("amount", type_=sa.BigInteger()),
            sa.bindparam("transfer_id", type_=sa.String()),
            sa.bindparam("reference", type_=sa.String()),
            sa.bindparam("event_id", type_=sa.String()),
            sa.bindparam("event_type", type_=sa.String()),
        )
        .columns(
            activated_at=UtcDateTime(),
            expires_at=UtcDateTime(),
            created_at=UtcDateTime(),
            updated_at=UtcDateTime(),
            disabled_at=UtcDateTime(),
            metadata=JsonType,
        )
    )


_STATEMENT, _STATEMENT_ALONE = _statement(False), _statement(True)


def _positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with `:name` parameters as asyncpg's `$n`, and the names in their order."""
    names: list[str] = []

    def number(m: re.Match[str]) -> str:
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    return re.sub(r"(?<![:\w]):(\w+)", number, sql), tuple(names)


# Alone, the statement needs no transaction of SQLAlchemy's: it goes straight to the driver (about
# 80 us of CPU against about 340 us through SQLAlchemy's execution and result layers), prepared
# once per connection by asyncpg's statement cache.
_RAW_ALONE, _RAW_NAMES = _positional(_SQL.replace("{alone}", _ALONE))


async def redeem(
    uow: UnitOfWork, *, account_id: str, card_id: str, amount: int, reference: str | None
) -> tuple[Transfer, Card] | None:
    """The transfer and the card after it, or None when nothing changed (see the module's doc).
    In a read-only unit of work (autocommit) the statement commits on its own, and changes nothing
    for an account with webhook endpoints (their deliveries need a transaction)."""
    transfer_id, event_id = new_id("trf"), new_id("evt")
    params = {
        "sys_kind": AccountKind.REDEMPTION.value,
        "card_id": card_id,
        "account_id": account_id,
        "now": uow.now,
        "amount": amount,
        "transfer_id": transfer_id,
        "reference": reference,
        "event_id": event_id,
        "event_type": EVENT,
    }
    row: Any
    endpoints: list[Any]
    if uow.dialect == "sqlite":
        done = await redeem_sqlite.redeem(uow, params)
        if done is None:
            return None
        row, endpoints = SimpleNamespace(**done[0]), done[1]
    elif uow.read_only:  # autocommit: the statement is the whole transaction
        driver: Any = (await uow.conn.get_raw_connection()).driver_connection
        record = await driver.fetchrow(_RAW_ALONE, *[params[n] for n in _RAW_NAMES])
        if record is None:
            return None
        row = SimpleNamespace(**record)
        # SQLAlchemy's codec on the connection hands jsonb over as text.
        if isinstance(row.metadata, str):
            row.metadata = orjson.loads(row.metadata)
        endpoints = [(e[0], e[1], e[2], bool(e[3])) for e in orjson.loads(row.endpoints)]
    else:
        row = (await uow.conn.execute(_STATEMENT, params)).first()
        if row is None:
            return None
        endpoints = [(e[0], e[1], e[2], bool(e[3])) for e in orjson.loads(row.endpoints)]
    card = card_from_row(row)
    transfer = Transfer(
        id=transfer_id,
        account_id=account_id,
        kind=TransferKind.REDEEM,
        status=TransferStatus.POSTED,
        currency=card.currency,
        amount=amount,
        debit_account_id=card.ledger_account_id,
        credit_account_id=row.sys_id,
        card_id=card.id,
        counterparty_card_id=None,
        debit_balance_after=card.balance,
        credit_balance_after=None,
        hold_amount=None,
        expires_at=None,
        refund_of=None,
        refunded_amount=0,
        reference=reference,
        reason=None,
        created_at=uow.now,
        posted_at=uow.now,
    )
    if endpoints:
        await events.deliver_to(
            uow,
            endpoints,
            event_id=event_id,
            account_id=account_id,
            event_type=EVENT,
            created_at=uow.now,
        )
    return transfer, card
