"""Test data factories: accounts, tokens and cards made through the real services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from giftwell.domain.access import SCOPES
from giftwell.services import access, cards
from giftwell.services.cards import IssuedCard
from giftwell.services.runtime import Runtime

_n = 0


@dataclass
class Tenant:
    account_id: str
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def tenant(rt: Runtime, name: str | None = None, scopes: list[str] | None = None) -> Tenant:
    global _n
    _n += 1
    name = name or f"shop-{_n}"
    async with rt.uow() as uow:
        acct = await access.create_account(uow, name=name)
        tok = await access.create_token(uow, account_id=acct.id, scopes=scopes or list(SCOPES))
        await uow.commit()
    return Tenant(acct.id, name, tok.token)


async def card(
    rt: Runtime, account_id: str, *, currency: str = "EUR", amount: int | None = 5000, **kw: Any
) -> IssuedCard:
    async with rt.uow() as uow:
        issued = await cards.issue(uow, account_id=account_id, currency=currency, amount=amount, **kw)
        await uow.commit()
    return issued
