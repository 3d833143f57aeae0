"""Acting on a card named by its code, as the code-based vendor APIs (the Giftcards B2B family)
call it: one use case per call, in one transaction.

The card is looked up by its code in the caller's account (the keyed hash), expired first if it
is past its date, then the action runs through the same services the native API uses. An amount
comes in the card currency's major units, as those APIs send it, and is converted exactly
(`to_minor` refuses extra decimals). The transaction commits when anything changed (an action
that moves money or state, or a due card expired by the read).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from giftwell.domain.cards import Card, CardAction
from giftwell.domain.errors import ValidationFailed
from giftwell.domain.money import to_minor
from giftwell.services.access import accounts
from giftwell.services.cards import expiry, lifecycle, money
from giftwell.services.cards import reads as cards
from giftwell.services.currencies import currency
from giftwell.services.runtime import Runtime
from giftwell.store.uow import UnitOfWork


class CodeAction(StrEnum):
    RETRIEVE = "retrieve"
    ACTIVATE = "activate"
    RELOAD = "reload"
    REDEEM = "redeem"
    BLOCK = "block"
    UNBLOCK = "unblock"


@dataclass(frozen=True, slots=True)
class CodeResult:
    """The card as it stands after the action, the brand it carries (`metadata.brand_name`, else
    the issuing account's name) and whether anything changed."""

    card: Card
    brand: str
    changed: bool


Step = Callable[[UnitOfWork, Card, int | None, str | None], Awaitable[Card]]


async def _as_found(uow: UnitOfWork, card: Card, amount: int | None, reason: str | None) -> Card:
    return card


def _required(amount: int | None) -> int:
    if amount is None:
        raise ValidationFailed("amount is required", param="amount")
    return amount


async def _activate(uow: UnitOfWork, card: Card, amount: int | None, reason: str | None) -> Card:
    m = await money.activate(uow, account_id=card.account_id, card_id=card.id, amount=_required(amount))
    return m.card


async def _reload(uow: UnitOfWork, card: Card, amount: int | None, reason: str | None) -> Card:
    m = await money.reload(uow, account_id=card.account_id, card_id=card.id, amount=_required(amount))
    return m.card


async def _redeem(uow: UnitOfWork, card: Card, amount: int | None, reason: str | None) -> Card:
    m = await money.redeem(uow, account_id=card.account_id, card_id=card.id, amount=_required(amount), capture=True)
    return m.card


def _change(action: CardAction) -> Step:
    async def change(uow: UnitOfWork, card: Card, amount: int | None, reason: str | None) -> Card:
        return await lifecycle.change_status(
            uow, account_id=card.account_id, card_id=card.id, action=action, reason=reason
        )

    return change


STEPS: dict[CodeAction, Step] = {
    CodeAction.RETRIEVE: _as_found,
    CodeAction.ACTIVATE: _activate,
    CodeAction.RELOAD: _reload,
    CodeAction.REDEEM: _redeem,
    CodeAction.BLOCK: _change(CardAction.BLOCK),
    CodeAction.UNBLOCK: _change(CardAction.UNBLOCK),
}


def brand_name(card: Card) -> str | None:
    """The brand an issuer set on the card (`metadata.brand_name`), if any."""
    value = card.metadata.get("brand_name")
    return value if isinstance(value, str) and value else None


async def act(
    rt: Runtime,
    *,
    account_id: str,
    code: str,
    action: CodeAction,
    amount: Decimal | None = None,
    reason: str | None = None,
    with_brand: bool = True,
) -> CodeResult:
    """Find the caller's card by `code`, settle its expiry, run `action`, commit if anything
    changed. Raises the services' errors (`CodeNotFound` for an unknown code, `InsufficientFunds`,
    a state that forbids the action, a field error naming `amount`)."""
    async with rt.uow() as uow:
        found = await cards.lookup(uow, account_id=account_id, code=code)
        card = await expiry.settled(uow, found)
        minor = to_minor(amount, currency(card.currency)) if amount is not None else None
        after = await STEPS[action](uow, card, minor, reason)
        brand = ""
        if with_brand:
            brand = brand_name(after) or (await accounts.get_account(uow, account_id)).name
        changed = action is not CodeAction.RETRIEVE or card is not found
        if changed:
            await uow.commit()
    return CodeResult(after, brand, changed)
