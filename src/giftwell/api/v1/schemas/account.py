"""The caller's account and its funding balances."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from giftwell.api.v1.schemas.common import In
from giftwell.domain.expiry_policy import MAX_DAYS, MAX_RULE, ExpiryPolicy
from giftwell.services.access.accounts import AccountInfo
from giftwell.services.funding.balances import Balance


class BalanceOut(BaseModel):
    currency: str
    balance: int
    available: int

    @classmethod
    def of(cls, b: Balance) -> BalanceOut:
        return cls(currency=b.currency, balance=b.balance, available=b.available)


class ExpiryPolicyIn(In):
    """No card may be issued expiring sooner than `min_days` after its issue; `rule` names why and is
    quoted in the error (e.g. "US CARD Act: 5 years")."""

    min_days: Annotated[StrictInt, Field(ge=1, le=MAX_DAYS, examples=[1826])]
    rule: Annotated[str, Field(min_length=1, max_length=MAX_RULE, examples=["US CARD Act: 5 years"])]

    def domain(self) -> ExpiryPolicy:
        return ExpiryPolicy(self.min_days, self.rule.strip())


class ExpiryPolicyOut(BaseModel):
    min_days: int
    rule: str

    @classmethod
    def of(cls, p: ExpiryPolicy | None) -> ExpiryPolicyOut | None:
        return None if p is None else cls(min_days=p.min_days, rule=p.rule)


class AccountOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    balances: list[BalanceOut]
    expiry_policy: ExpiryPolicyOut | None = Field(description="The shortest lifetime a card may be issued with.")

    @classmethod
    def of(cls, a: AccountInfo, balances: list[Balance]) -> AccountOut:
        return cls(
            id=a.id,
            name=a.name,
            created_at=a.created_at,
            balances=[BalanceOut.of(b) for b in balances],
            expiry_policy=ExpiryPolicyOut.of(a.expiry_policy),
        )
