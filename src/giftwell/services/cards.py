"""Card use cases: issue, look up, list, and change state.

Money movements on cards (activate, reload, redeem, transfer, adjust, refund) live in
`services.card_money`; both go through `services.ledger` for every balance change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from giftwell.domain import codes
from giftwell.domain.cards import (
    Card,
    CardAction,
    CardSource,
    CardStatus,
    Party,
    next_status,
)
from giftwell.domain.errors import CodeNotFound, Conflict, NotFound, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.domain.ledger import AccountKind, TransferKind
from giftwell.domain.money import MAX_AMOUNT
from giftwell.services import events, ledger
from giftwell.services.currencies import currency as check_currency
from giftwell.services.pagination import Page, check_limit, cursor_int, cursor_time, decode_cursor, encode_cursor
from giftwell.store.models import Account
from giftwell.store.models import Card as CardRow
from giftwell.store.models import LedgerAccount as LA
from giftwell.store.uow import UnitOfWork

C = CardRow
_PIN_RE = re.compile(r"^[0-9A-Za-z]{4,16}$")
MAX_METADATA_KEYS = 50

CARD_COLUMNS = (*C.__table__.c, LA.balance, LA.pending_out)


@dataclass(frozen=True, slots=True)
class IssuedCard:
    """A new card with its code and PIN in the clear: shown to the caller this once."""

    card: Card
    code: str
    pin: str | None


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
    )


def _select() -> sa.Select[Any]:
    return sa.select(*CARD_COLUMNS).join(LA, LA.id == C.ledger_account_id)


_GET_CARD = _select().where(C.id == sa.bindparam("card_id"), C.account_id == sa.bindparam("account_id"))


async def get(uow: UnitOfWork, *, account_id: str, card_id: str) -> Card:
    """The caller's card; another account's card is `NotFound`, exactly like a missing one."""
    row = (await uow.conn.execute(_GET_CARD, {"card_id": card_id, "account_id": account_id})).first()
    if row is None:
        raise NotFound("no such card", param="card")
    return card_from_row(row)


async def lookup(uow: UnitOfWork, *, account_id: str, code: str) -> Card:
    """Find a card by its code (case, spaces and dashes ignored) through the keyed hash."""
    if not isinstance(code, str) or not code.strip():
        raise ValidationFailed("code is required", param="code")
    digest = uow.rt.keys.code_hash(account_id, codes.normalize(code))
    row = (await uow.conn.execute(_select().where(C.account_id == account_id, C.code_hash == digest))).first()
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
        digest = keys.code_hash(account_ids[0], normalized)
        q = _select().where(C.account_id == account_ids[0], C.code_hash == digest)
    else:
        pairs = [(a, keys.code_hash(a, normalized)) for a in account_ids] or [("", "")]
        q = _select().where(sa.tuple_(C.account_id, C.code_hash).in_(pairs)).limit(1)
    row = (await uow.conn.execute(q)).first()
    blob = row.pin_encrypted if row is not None else None
    pin_ok = uow.rt.keys.pin_matches(blob, aad=f"pin:{row.id}" if row is not None else "", given=pin)
    card = card_from_row(row) if row is not None else None
    if card is None or card.status is CardStatus.BLOCKED or not pin_ok:
        raise CodeNotFound("no such card", param="code")
    return card


LIVE_STATUSES = (CardStatus.INACTIVE, CardStatus.ACTIVE, CardStatus.BLOCKED)


async def count_live(uow: UnitOfWork) -> int:
    """Cards whose code still finds them (all accounts): the N of the guessing odds."""
    q = sa.select(sa.func.count()).select_from(C).where(C.status.in_([s.value for s in LIVE_STATUSES]))
    return int((await uow.conn.execute(q)).scalar_one())


async def reveal_code(uow: UnitOfWork, *, account_id: str, card_id: str) -> tuple[str, str | None]:
    """Decrypt a card's code and PIN (for the few places allowed to show them)."""
    row = (
        await uow.conn.execute(
            sa.select(C.id, C.code_encrypted, C.pin_encrypted).where(C.id == card_id, C.account_id == account_id)
        )
    ).first()
    if row is None:
        raise NotFound("no such card", param="card")
    keys = uow.rt.keys
    code = keys.decrypt(row.code_encrypted, aad=f"code:{row.id}")
    pin = keys.decrypt(row.pin_encrypted, aad=f"pin:{row.id}") if row.pin_encrypted is not None else None
    return code, pin


def _party(p: Party | None, param: str) -> Party:
    if p is None:
        return Party()
    email = p.email.strip().lower() if p.email else None
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise ValidationFailed(f"{param}.email is not a valid email address", param=f"{param}.email")
    return Party(p.name.strip() if p.name else None, email)


async def issue(
    uow: UnitOfWork,
    *,
    account_id: str,
    currency: str,
    amount: int | None = None,
    code: str | None = None,
    pin: str | None = None,
    code_format: codes.CodeFormat = codes.DEFAULT_FORMAT,
    serial: str | None = None,
    expires_at: datetime | None = None,
    sender: Party | None = None,
    recipient: Party | None = None,
    metadata: dict[str, Any] | None = None,
    source: CardSource = CardSource.MANUAL,
    test: bool = False,
) -> IssuedCard:
    """Create a card. With a positive `amount` it is activated with that value (an `activate`
    transfer from the issuer's issuance account); without, it is `inactive`.

    The code is supplied (8-64 characters, unique per account) or generated from `code_format`.
    """
    cur = check_currency(currency)
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount < 0):
        raise ValidationFailed("amount must be a non-negative integer of minor units", param="amount")
    if amount is not None and amount > MAX_AMOUNT:
        raise ValidationFailed(f"amount may be at most {MAX_AMOUNT}", param="amount")
    if pin is not None and not _PIN_RE.match(pin):
        raise ValidationFailed("pin must be 4 to 16 letters or digits", param="pin")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise ValidationFailed("expires_at must include a timezone", param="expires_at")
        if expires_at <= uow.now:
            raise ValidationFailed("expires_at must be in the future", param="expires_at")
    if metadata is not None and len(metadata) > MAX_METADATA_KEYS:
        raise ValidationFailed(f"metadata may have at most {MAX_METADATA_KEYS} keys", param="metadata")
    sender, recipient = _party(sender, "sender"), _party(recipient, "recipient")
    shown = codes.check_supplied(code) if code is not None else codes.generate(code_format)
    keys = uow.rt.keys
    digest = keys.code_hash(account_id, codes.normalize(shown))
    if code is not None:
        taken = await uow.conn.execute(sa.select(C.id).where(C.account_id == account_id, C.code_hash == digest))
        if taken.first() is not None:
            raise Conflict("a card with this code already exists", param="code")

    card_id = new_id("card")
    la_id = await ledger.open_account(uow, account_id=account_id, kind=AccountKind.CARD, currency=cur.code)
    value = amount or 0
    status = CardStatus.ACTIVE if value > 0 else CardStatus.INACTIVE
    try:
        await uow.conn.execute(
            sa.insert(C).values(
                id=card_id,
                account_id=account_id,
                ledger_account_id=la_id,
                code_hash=digest,
                code_encrypted=keys.encrypt(shown, aad=f"code:{card_id}"),
                code_last4=codes.last4(shown),
                pin_encrypted=keys.encrypt(pin, aad=f"pin:{card_id}") if pin else None,
                serial=serial,
                currency=cur.code,
                initial_amount=value,
                status=status.value,
                status_reason=None,
                activated_at=uow.now if value > 0 else None,
                expires_at=expires_at,
                source=source.value,
                test=test,
                sender_name=sender.name,
                sender_email=sender.email,
                recipient_name=recipient.name,
                recipient_email=recipient.email,
                metadata_=metadata or {},
                created_at=uow.now,
                updated_at=uow.now,
            )
        )
    except IntegrityError:
        raise Conflict("a card with this code already exists", param="code") from None
    await events.record(
        uow,
        account_id=account_id,
        type="card.created",
        subject_id=card_id,
        data={"card": card_id, "currency": cur.code, "amount": value, "status": status.value},
    )
    if value > 0:
        issuance = await ledger.system_account(uow, account_id=account_id, kind=AccountKind.ISSUANCE, currency=cur.code)
        await ledger.post(
            uow,
            account_id=account_id,
            kind=TransferKind.ACTIVATE,
            currency=cur.code,
            amount=value,
            debit=ledger.Leg(issuance, guarded=False),
            credit=ledger.Leg(la_id, guarded=True),
            card_id=card_id,
        )
        await events.record(
            uow,
            account_id=account_id,
            type="card.activated",
            subject_id=card_id,
            data={"card": card_id, "amount": value, "currency": cur.code},
        )
    return IssuedCard(await get(uow, account_id=account_id, card_id=card_id), shown, pin)


async def change_status(
    uow: UnitOfWork, *, account_id: str, card_id: str, action: CardAction, reason: str | None = None
) -> Card:
    """Block, unblock or disable a card. Compare-and-set on the status, so two concurrent changes
    cannot both apply to the same starting state."""
    card = await get(uow, account_id=account_id, card_id=card_id)
    target = next_status(action, card.status, was_activated=card.activated_at is not None)
    res = await uow.conn.execute(
        sa.update(C)
        .where(C.id == card.id, C.status == card.status.value)
        .values(status=target.value, status_reason=reason, updated_at=uow.now)
        .returning(C.id)
    )
    if res.first() is None:
        # Someone changed the card between our read and our update: judge against the new state.
        fresh = await get(uow, account_id=account_id, card_id=card_id)
        next_status(action, fresh.status, was_activated=fresh.activated_at is not None)
        raise Conflict("card changed concurrently; retry", param="card")
    event_type = {
        CardAction.BLOCK: "card.blocked",
        CardAction.UNBLOCK: "card.unblocked",
        CardAction.DISABLE: "card.disabled",
    }
    await events.record(
        uow,
        account_id=account_id,
        type=event_type[action],
        subject_id=card.id,
        data={"card": card.id, "status": target.value, "reason": reason},
    )
    return await get(uow, account_id=account_id, card_id=card_id)


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
            C.id == sa.bindparam("guard_card_id"),
            C.status.in_([s.value for s in statuses]),
            sa.or_(C.expires_at.is_(None), C.expires_at > sa.bindparam("guard_now")),
        )
    return cond, (("guard_card_id", card_id), ("guard_now", now))


@dataclass(frozen=True, slots=True)
class CardFilters:
    status: CardStatus | None = None
    currency: str | None = None
    recipient_email: str | None = None
    sender_email: str | None = None
    code_suffix: str | None = None
    created_gte: datetime | None = None
    created_lte: datetime | None = None


SORTS = ("created_at", "-created_at", "balance", "-balance")


async def list_cards(
    uow: UnitOfWork,
    *,
    account_id: str,
    filters: CardFilters,
    sort: str = "-created_at",
    limit: int = 20,
    cursor: str | None = None,
) -> Page[Card]:
    if sort not in SORTS:
        raise ValidationFailed(f"sort must be one of {', '.join(SORTS)}", param="sort")
    check_limit(limit)
    q = _select().where(C.account_id == account_id)
    f = filters
    if f.status is not None:
        q = q.where(C.status == f.status.value)
    if f.currency is not None:
        # Checked like a card's currency: "eur" or "XXX" is a 422, not an empty list.
        q = q.where(C.currency == check_currency(f.currency).code)
    if f.recipient_email:
        q = q.where(C.recipient_email == f.recipient_email.strip().lower())
    if f.sender_email:
        q = q.where(C.sender_email == f.sender_email.strip().lower())
    if f.code_suffix:
        suffix = codes.normalize(f.code_suffix)
        if not 1 <= len(suffix) <= 4:
            raise ValidationFailed("code_suffix must be 1 to 4 characters", param="code_suffix")
        q = q.where(C.code_last4 == suffix if len(suffix) == 4 else C.code_last4.endswith(suffix, autoescape=True))
    if f.created_gte is not None:
        q = q.where(C.created_at >= f.created_gte)
    if f.created_lte is not None:
        q = q.where(C.created_at <= f.created_lte)
    desc = sort.startswith("-")
    field = sort.lstrip("-")
    col: Any = C.created_at if field == "created_at" else LA.balance
    if cursor:
        raw, last_id = decode_cursor(cursor, sort)
        value: datetime | int = cursor_time(raw) if field == "created_at" else cursor_int(raw)
        if desc:
            q = q.where(sa.or_(col < value, sa.and_(col == value, C.id < last_id)))
        else:
            q = q.where(sa.or_(col > value, sa.and_(col == value, C.id > last_id)))
    q = q.order_by(col.desc(), C.id.desc()) if desc else q.order_by(col.asc(), C.id.asc())
    rows = (await uow.conn.execute(q.limit(limit + 1))).all()
    cards = [card_from_row(r) for r in rows[:limit]]
    has_more = len(rows) > limit
    next_cursor = None
    if has_more and cards:
        last = cards[-1]
        key = last.created_at.isoformat() if field == "created_at" else last.balance
        next_cursor = encode_cursor(sort, key, last.id)
    return Page(cards, has_more, next_cursor)
