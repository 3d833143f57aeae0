"""Shapes of an order's choice reward links (`GET /v1/orders/{id}/links`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from giftwell.services.delivery.choice import LinkView


class PickOut(BaseModel):
    id: str
    product: str
    amount: int = Field(description="What the recipient spent on it, in minor units.")
    card: str = Field(description="The card made (`card_...`), in its product issuer's ledger.")
    created_at: datetime


class ChoiceLinkOut(BaseModel):
    id: str
    order_card: str = Field(description="The order unit the link stands for (`oc_...`).")
    item: str
    link: str = Field(description="The page the recipient opens: `/r/{token}`. A bearer secret: send it only to them.")
    currency: str
    country: str | None
    initial_balance: int = Field(description="The value the order gave, in minor units.")
    unspent_balance: int = Field(description="What is left to pick (0 once expired: the rest became breakage).")
    status: str = Field(description="active, expired (the rest became breakage) or cancelled (with its order).")
    products: list[str] = Field(description="The products the recipient may pick from.")
    expires_at: datetime
    created_at: datetime
    first_opened_at: datetime | None
    last_opened_at: datetime | None
    open_count: int
    picks: list[PickOut]
    test: bool

    @classmethod
    def of(cls, v: LinkView) -> ChoiceLinkOut:
        return cls(
            id=v.id,
            order_card=v.unit_id,
            item=v.item_id,
            link=v.url,
            currency=v.currency,
            country=v.country,
            initial_balance=v.initial_balance,
            unspent_balance=v.unspent_balance,
            status=v.status,
            products=v.products,
            expires_at=v.expires_at,
            created_at=v.created_at,
            first_opened_at=v.first_opened_at,
            last_opened_at=v.last_opened_at,
            open_count=v.open_count,
            picks=[
                PickOut(id=p.id, product=p.product, amount=p.amount, card=p.card_id, created_at=p.created_at)
                for p in v.picks
            ],
            test=v.test,
        )
