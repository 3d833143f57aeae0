"""The caller's account and its funding balances."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from giftwell.services.access.accounts import AccountInfo
from giftwell.services.funding.balances import Balance


class BalanceOut(BaseModel):
    currency: str
    balance: int
    available: int

    @classmethod
    def of(cls, b: Balance) -> BalanceOut:
        return cls(currency=b.currency, balance=b.balance, available=b.available)


class AccountOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    balances: list[BalanceOut]

    @classmethod
    def of(cls, a: AccountInfo, balances: list[Balance]) -> AccountOut:
        return cls(id=a.id, name=a.name, created_at=a.created_at, balances=[BalanceOut.of(b) for b in balances])
