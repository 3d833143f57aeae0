"""Card use cases: issue, look up, list, and change state.

Money movements on cards (activate, reload, redeem, transfer, adjust, refund) live in
`services.card_money`; both go through `services.ledger` for every balance change.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from giftwell.domain import codes
from giftwell.domain.cards import (
    EXPIRABLE,
    Card,
    CardSource,
    CardStatus,
    Party,
)
from giftwell.domain.errors import CodeNotFound, NotFound, ValidationFailed
from giftwell.services.cards import redeem_sqlite
from giftwell.store.models import Account, LedgerAccount
from giftwell.store.models import Card as CardRow
from giftwell.store.uow import UnitOfWork

CARD_COLUMNS = (*CardRow.__table__.c, LedgerAccount.balance, LedgerAccount.pending_out)


def card_from_row(r: Any) -> Card:
    return Card(
        id=r.id,
        account_id=r.account_id,
        ledger_account_id=r.ledger_account_id,
        code_last4=r.code_last4,
        currency=r.currency,
        initial_amount=int(r.initial_amount),
        balance=int(r.balance),
        available=int(r.balance) - int(r.pending_out),
        status=CardStatus(r.status),
        status_reason=r.status_reason,
        activated_at=r.activated_at,
        expires_at=r.expires_at,
        source=CardSource(r.source),
        test=bool(r.test),
        serial=r.serial,
        has_pin=r.pin_encrypted is not None,
        sender=Party(r.sender_name, r.sender_email),
        recipient=Party(r.recipient_name, r.recipient_email),
        metadata=r.metadata or {},
        created_at=r.created_at,
        updated_at=r.updated_at,
        disabled_at=r.disabled_at,
    )


def select_cards() -> sa.Select[Any]:
    return sa.select(*CARD_COLUMNS).join(LedgerAccount, LedgerAccount.id == CardRow.ledger_account_id)


_GET_CARD = select_cards().where(
    CardRow.id == sa.bindparam("card_id"), CardRow.account_id == sa.bindparam("account_id")
)


async def get(uow: UnitOfWork, *, account_id: str, card_id: str) -> Card:
    """The caller's card; another account's card is `NotFound`, exactly like a missing one."""
    row: Any
    if uow.dialect == "sqlite":  # one trip to the database thread (services/cards/redeem_sqlite.py)
        found = await redeem_sqlite.get_card(uow, account_id=account_id, card_id=card_id)
        row = None if found is None else SimpleNamespace(**found)
    else:
        row = (await uow.conn.execute(_GET_CARD, {"card_id": card_id, "account_id": account_id})).first()
    if row is None:
        raise NotFound("no such card", param="card")
    return card_from_row(row)


async def lookup(uow: UnitOfWork, *, account_id: str, code: str) -> Card:
    """Find a card by its code (case, spaces and dashes ignored) through the keyed hash."""
    if not isinstance(code, str) or not code.strip():
        raise ValidationFailed("code is required", param="code")
    digests = uow.rt.keys.code_hashes(account_id, codes.normalize(code))
    row = (
        await uow.conn.execute(
            select_cards().where(CardRow.account_id == account_id, CardRow.code_hash.in_(digests)).limit(1)
        )
    ).first()
    if row is None:
        raise CodeNotFound("no such card", param="code")
    return card_from_row(row)


async def lookup_with_pin(uow: UnitOfWork, *, account_id: str, code: str, pin: str | None) -> Card:
    """The holder-facing lookup: a card found by its code and, when it has a PIN, that PIN.

    An unknown code, a blocked card, a card whose PIN is not `pin` and a card with a PIN looked
    up without one all raise the same `CodeNotFound`, after the same work (the keyed hash, one
    query, one PIN decryption and comparison), so neither the answer nor its timing tells a
    guesser which codes exist. A `pin` sent for a card without one is ignored. Issuer operations
    that must find blocked cards (unblocking by code) use `lookup`.
    """
    return await _holder_lookup(uow, [account_id], code=code, pin=pin)


async def lookup_public(uow: UnitOfWork, *, code: str, pin: str | None) -> Card:
    """`lookup_with_pin` for a caller who names no account (the public balance page): the code is
    hashed for every account, since each account's codes are hashed with its own id, and looked
    up in one query. Same answers and same work for unknown, blocked and wrong-PIN cards.

    The work grows with the number of accounts (one HMAC and one key pair each): fine for the
    issuers of one Giftwell, to revisit beyond some thousands."""
    accounts = [str(a) for a in (await uow.conn.execute(sa.select(Account.id).order_by(Account.id))).scalars()]
    return await _holder_lookup(uow, accounts, code=code, pin=pin)


async def _holder_lookup(uow: UnitOfWork, account_ids: list[str], *, code: str, pin: str | None) -> Card:
    if not isinstance(code, str) or not code.strip():
        raise ValidationFailed("code is required", param="code")
    normalized = codes.normalize(code)
    keys = uow.rt.keys
    if len(account_ids) == 1:
        digests = keys.code_hashes(account_ids[0], normalized)
        q = select_cards().where(CardRow.account_id == account_ids[0], CardRow.code_hash.in_(digests)).limit(1)
    else:
        pairs = [(a, h) for a in account_ids for h in keys.code_hashes(a, normalized)] or [("", "")]
        q = select_cards().where(sa.tuple_(CardRow.account_id, CardRow.code_hash).in_(pairs)).limit(1)
    row = (await uow.conn.execute(q)).first()
    blob = row.pin_encrypted if row is not None else None
    pin_ok = uow.rt.keys.pin_matches(blob, aad=f"pin:{row.id}" if row is not None else "", given=pin)
    card = card_from_row(row) if row is not None else None
    if card is None or card.status is CardStatus.BLOCKED or not pin_ok:
        raise CodeNotFound("no such card", param="code")
    return card


async def count_live(uow: UnitOfWork) -> int:
    """Cards whose code still finds them (all accounts): the N of the guessing odds."""
    q = sa.select(sa.func.count()).select_from(CardRow).where(CardRow.status.in_(sorted(s.value for s in EXPIRABLE)))
    return int((await uow.conn.execute(q)).scalar_one())


async def reveal_code(uow: UnitOfWork, *, account_id: str, card_id: str) -> tuple[str, str | None]:
    """Decrypt a card's code and PIN (for the few places allowed to show them)."""
    row = (
        await uow.conn.execute(
            sa.select(CardRow.id, CardRow.code_encrypted, CardRow.pin_encrypted).where(
                CardRow.id == card_id, CardRow.account_id == account_id
            )
        )
    ).first()
    if row is None:
        raise NotFound("no such card", param="card")
    keys = uow.rt.keys
    code = keys.decrypt(row.code_encrypted, aad=f"code:{row.id}")
    pin = keys.decrypt(row.pin_encrypted, aad=f"pin:{row.id}") if row.pin_encrypted is not None else None
    return code, pin


_USABLE: dict[tuple[CardStatus, ...], sa.ColumnElement[bool]] = {}


def usable(
    card_id: str, now: datetime, statuses: tuple[CardStatus, ...] = (CardStatus.ACTIVE,)
) -> tuple[sa.ColumnElement[bool], tuple[tuple[str, Any], ...]]:
    """SQL condition and its parameters: the card is in one of `statuses` and not past its expiry
    (checked in the same statement that moves its money). The condition is built once per set of
    statuses, so the ledger's statement cache sees the same object every time."""
    cond = _USABLE.get(statuses)
    if cond is None:
        cond = _USABLE[statuses] = sa.exists().where(
            CardRow.id == sa.bindparam("guard_card_id"),
            CardRow.status.in_([s.value for s in statuses]),
            sa.or_(CardRow.expires_at.is_(None), CardRow.expires_at > sa.bindparam("guard_now")),
        )
    return cond, (("guard_card_id", card_id), ("guard_now", now))
