"""Shapes of `/v1/reports`: amounts in minor units, one entry per currency."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from giftwell.api.v1.schemas.cards import CardOut
from giftwell.services.reports.breakage import Breakage, CurrencyBreakage
from giftwell.services.reports.expiring import Expiring
from giftwell.services.reports.liability import Liability, Owed


class OwedOut(BaseModel):
    currency: str
    amount: int = Field(description="Minor units.")
    cards: int = Field(description="Cards holding a positive balance.")

    @classmethod
    def of(cls, o: Owed) -> OwedOut:
        return cls(currency=o.currency, amount=o.amount, cards=o.cards)


class LiableOut(OwedOut):
    links: int = Field(
        0,
        description="Minor units on choice reward links not yet picked, owed besides `amount` "
        "(the operator's report only: its issuance funds the links).",
    )
    link_count: int = Field(0, description="Choice reward links holding a positive balance.")

    @classmethod
    def of(cls, o: Owed) -> LiableOut:
        return cls(currency=o.currency, amount=o.amount, cards=o.cards, links=o.links, link_count=o.link_count)


class LiabilityOut(BaseModel):
    as_of: datetime
    data: list[LiableOut]

    @classmethod
    def of(cls, r: Liability) -> LiabilityOut:
        return cls(as_of=r.as_of, data=[LiableOut.of(o) for o in r.data])


class MonthOut(BaseModel):
    month: str = Field(description="YYYY-MM (UTC).")
    issued: int
    redeemed: int
    expired: int
    recognized_breakage: int = Field(description="Estimated breakage recognised this month.")
    cumulative_breakage: int


class DormantOut(BaseModel):
    amount: int
    cards: int


class CurrencyBreakageOut(BaseModel):
    currency: str
    issued: int
    redeemed: int
    expired: int = Field(description="Value moved to breakage by expiry: breakage that happened.")
    expected_breakage: int = Field(description="rate x issued (of cards that are not dormant).")
    recognized_breakage: int = Field(description="Recognised so far, in proportion to redemptions.")
    dormant: DormantOut = Field(
        description="Value on dormant cards, held apart: it may be owed to a state (unclaimed property), "
        "so it is never part of the estimate."
    )
    months: list[MonthOut]

    @classmethod
    def of(cls, c: CurrencyBreakage) -> CurrencyBreakageOut:
        s = c.schedule
        return cls(
            currency=c.currency,
            issued=s.issued,
            redeemed=s.redeemed,
            expired=s.expired,
            expected_breakage=s.expected_breakage,
            recognized_breakage=s.recognized,
            dormant=DormantOut(amount=c.dormant.amount, cards=c.dormant.cards),
            months=[
                MonthOut(
                    month=r.month,
                    issued=r.issued,
                    redeemed=r.redeemed,
                    expired=r.expired,
                    recognized_breakage=r.recognized,
                    cumulative_breakage=r.cumulative,
                )
                for r in s.rows
            ],
        )


class BreakageOut(BaseModel):
    as_of: datetime
    rate: str
    dormant_after_days: int
    data: list[CurrencyBreakageOut]

    @classmethod
    def of(cls, r: Breakage) -> BreakageOut:
        return cls(
            as_of=r.as_of,
            rate=str(r.rate),
            dormant_after_days=r.dormant_after_days,
            data=[CurrencyBreakageOut.of(c) for c in r.data],
        )


class ExpiringOut(BaseModel):
    days: int
    until: datetime
    totals: list[OwedOut]
    data: list[CardOut]
    has_more: bool
    next_cursor: str | None

    @classmethod
    def of(cls, r: Expiring) -> ExpiringOut:
        return cls(
            days=r.days,
            until=r.until,
            totals=[OwedOut.of(o) for o in r.totals],
            data=[CardOut.of(c) for c in r.page.data],
            has_more=r.page.has_more,
            next_cursor=r.page.next_cursor,
        )
