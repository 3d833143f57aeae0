"""What every report reads from the ledger: an account's live card accounts (test cards left
out: their value is nobody's), their movements, and time buckets that both databases compute
the same way (UTC days and months)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain.ledger import AccountKind, TransferStatus
from giftwell.store.models import Card, LedgerAccount, Transfer
from giftwell.store.uow import UnitOfWork


def card_accounts(account_id: str) -> sa.Subquery:
    """The ledger accounts of the account's cards, test cards left out: `la`, `card`, `currency`,
    `balance` (now)."""
    return (
        sa.select(
            LedgerAccount.id.label("la"),
            Card.id.label("card"),
            LedgerAccount.currency.label("currency"),
            LedgerAccount.balance.label("balance"),
        )
        .join(Card, Card.ledger_account_id == LedgerAccount.id)
        .where(
            LedgerAccount.account_id == account_id,
            LedgerAccount.kind == AccountKind.CARD.value,
            Card.test.is_(False),
        )
        .subquery("cards")
    )


def posted(*conditions: Any) -> sa.ColumnElement[bool]:
    return sa.and_(Transfer.status == TransferStatus.POSTED.value, *conditions)


def movements(cards: sa.Subquery, *conditions: Any) -> sa.Subquery:
    """Each posted transfer on one of `cards`, from that card's side: `la`, `currency`, `kind`,
    `delta` (+ credit, - debit), `posted_at`. A card-to-card transfer appears twice, once per card."""
    cols = (Transfer.currency.label("currency"), Transfer.kind.label("kind"), Transfer.posted_at.label("posted_at"))
    credit = (
        sa.select(Transfer.credit_account_id.label("la"), Transfer.amount.label("delta"), *cols)
        .join(cards, cards.c.la == Transfer.credit_account_id)
        .where(posted(*conditions))
    )
    debit = (
        sa.select(Transfer.debit_account_id.label("la"), (-Transfer.amount).label("delta"), *cols)
        .join(cards, cards.c.la == Transfer.debit_account_id)
        .where(posted(*conditions))
    )
    return sa.union_all(credit, debit).subquery("moves")


def bucket(uow: UnitOfWork, column: Any, width: int) -> Any:
    """A UTC day (`width` 10: YYYY-MM-DD) or month (7: YYYY-MM) of a timestamp column, as text.
    SQLite keeps UTC timestamps as ISO text, so a prefix is the bucket; PostgreSQL formats."""
    if uow.dialect == "postgresql":
        fmt = {10: "YYYY-MM-DD", 7: "YYYY-MM"}[width]
        return sa.func.to_char(sa.func.timezone("UTC", column), fmt, type_=sa.String)
    return sa.func.substr(column, 1, width, type_=sa.String)


def later_than(column: Any, at: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(column.is_not(None), column > at)
