"""Issuing a card: its code generated or supplied (stored as a keyed hash and AES-GCM ciphertext, never
in the clear), its ledger account, and, with a first value, the activation transfer."""

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
    CardSource,
    CardStatus,
    Party,
)
from giftwell.domain.contacts import check_email
from giftwell.domain.errors import Conflict, ValidationFailed
from giftwell.domain.expiry_policy import ExpiryPolicy, check_lifetime
from giftwell.domain.ids import new_id
from giftwell.domain.ledger import AccountKind, TransferKind
from giftwell.domain.money import MAX_AMOUNT
from giftwell.services import events
from giftwell.services.access.accounts import get_account
from giftwell.services.cards import reindex, text
from giftwell.services.cards.reads import get
from giftwell.services.currencies import currency as check_currency
from giftwell.services.ledger import accounts as ledger_accounts
from giftwell.services.ledger import transfers
from giftwell.store.models import Card as CardRow
from giftwell.store.models import CardMetadata
from giftwell.store.uow import UnitOfWork

_PIN_RE = re.compile(r"^[0-9A-Za-z]{4,16}$")


MAX_METADATA_KEYS = 50


@dataclass(frozen=True, slots=True)
class IssuedCard:
    """A new card with its code and PIN in the clear: shown to the caller this once."""

    card: Card
    code: str
    pin: str | None


def party(p: Party | None, param: str) -> Party:
    """A sender or recipient as stored: the name trimmed, the email checked (4xx naming `param`)."""
    if p is None:
        return Party()
    email = check_email(p.email, param=f"{param}.email") if p.email and p.email.strip() else None
    return Party(p.name.strip() if p.name else None, email)


async def check_expiry(
    uow: UnitOfWork, *, account_id: str, expires_at: datetime, product_policy: ExpiryPolicy | None
) -> None:
    """Refuse an expiry without a timezone, past, or sooner than the product's or the issuer
    account's expiry policy allows (naming the rule)."""
    if expires_at.tzinfo is None:
        raise ValidationFailed("expires_at must include a timezone", param="expires_at")
    if expires_at <= uow.now:
        raise ValidationFailed("expires_at must be in the future", param="expires_at")
    check_lifetime(product_policy, expires_at, uow.now, whose="product")
    check_lifetime((await get_account(uow, account_id)).expiry_policy, expires_at, uow.now, whose="account")


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
    product_policy: ExpiryPolicy | None = None,
) -> IssuedCard:
    """Create a card. With a positive `amount` it is activated with that value (an `activate`
    transfer from the issuer's issuance account); without, it is `inactive`.

    The code is supplied (8-64 characters, unique per account) or generated from `code_format`.
    An expiry sooner than the issuer account's expiry policy, or the product's
    (`product_policy`), allows is refused, naming the rule.
    """
    cur = check_currency(currency)
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount < 0):
        raise ValidationFailed("amount must be a non-negative integer of minor units", param="amount")
    if amount is not None and amount > MAX_AMOUNT:
        raise ValidationFailed(f"amount may be at most {MAX_AMOUNT}", param="amount")
    if pin is not None and not _PIN_RE.match(pin):
        raise ValidationFailed("pin must be 4 to 16 letters or digits", param="pin")
    if expires_at is not None:
        await check_expiry(uow, account_id=account_id, expires_at=expires_at, product_policy=product_policy)
    if metadata is not None and len(metadata) > MAX_METADATA_KEYS:
        raise ValidationFailed(f"metadata may have at most {MAX_METADATA_KEYS} keys", param="metadata")
    sender, recipient = party(sender, "sender"), party(recipient, "recipient")
    shown = codes.check_supplied(code) if code is not None else codes.generate(code_format)
    keys = uow.rt.keys
    digest = keys.code_hash(account_id, codes.normalize(shown))
    if code is not None:
        # Every configured secret's hash: during a key rotation the code may be hashed either way.
        taken = await uow.conn.execute(
            sa.select(CardRow.id).where(
                CardRow.account_id == account_id,
                CardRow.code_hash.in_(keys.code_hashes(account_id, codes.normalize(shown))),
            )
        )
        if taken.first() is not None:
            raise Conflict("a card with this code already exists", param="code")

    card_id = new_id("card")
    la_id = await ledger_accounts.open_account(uow, account_id=account_id, kind=AccountKind.CARD, currency=cur.code)
    value = amount or 0
    status = CardStatus.ACTIVE if value > 0 else CardStatus.INACTIVE
    try:
        await uow.conn.execute(
            sa.insert(CardRow).values(
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
    # What the card query reads beside the card: its metadata rows and its searchable text.
    meta = reindex.metadata_rows(account_id, card_id, metadata or {})
    if meta:
        await uow.conn.execute(sa.insert(CardMetadata), meta)
    terms = reindex.card_terms(recipient, sender, codes.last4(shown), metadata or {})
    await text.index(uow, account_id=account_id, card_id=card_id, terms=terms)
    await events.record(
        uow,
        account_id=account_id,
        type="card.created",
        subject_id=card_id,
        data={"card": card_id, "currency": cur.code, "amount": value, "status": status.value},
    )
    if value > 0:
        issuance = await ledger_accounts.system_account(
            uow, account_id=account_id, kind=AccountKind.ISSUANCE, currency=cur.code
        )
        await transfers.post(
            uow,
            account_id=account_id,
            kind=TransferKind.ACTIVATE,
            currency=cur.code,
            amount=value,
            debit=transfers.Leg(issuance, guarded=False),
            credit=transfers.Leg(la_id, guarded=True),
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
