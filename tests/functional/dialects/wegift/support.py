"""Helpers of the WeGift dialect tests: the seed's examples (seed 002, word for word), a JSON-type
comparison, a buyer funded in GBP with products sold in GB, and its key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from giftwell.services.funding import sources
from giftwell.services.runtime import Runtime
from tests import factories
from tests.functional.dialects.wizzgift.support import json_type

V2 = "/v2"

SEED_CREATE_REQUEST: dict[str, Any] = {
    "items": [{"country": "GB", "face_value": 10}],
    "idempotency_key": "985b8147-4120-4a05-ae9e-5b7477a6928d",
    "card_id": "wg123abc",
}

SEED_CREATE_RESPONSE: dict[str, Any] = {
    "description": None,
    "customer_id": "C-ABC123",
    "id": "O-ABC123",
    "user_id": None,
    "created_at": "2022-09-13T11:54:27.383022+00:00",
    "is_complete": False,
    "card_payment_id": "CP-ABC123",
    "currency": "GBP",
    "countries": ["GB"],
    "initial_values": {"link_count": 1, "total_price": 1, "total_value": 1},
    "final_values": None,
    "product_count": 1,
    "customer_name": "Company Name",
    "customisation": None,
    "items": [
        {
            "id": "E-ABC123",
            "order_id": "O-ABC123",
            "country": "GB",
            "currency": "GBP",
            "face_value": 1,
            "price": 1,
            "delivery_email": "[email protected]",
            "current_token": None,
            "tokens": [],
        }
    ],
    "card_payment_details": None,
}

SEED_LINKS_RESPONSE: list[dict[str, Any]] = [
    {
        "id": "E-123ABCD",
        "order_item_token_id": "OIT-ABC1234",
        "order_id": "O-123ABCD",
        "currency": "GBP",
        "face_value": 10,
        "price": 10,
        "token_created_at": "2022-09-13T12:57:21.352Z",
        "first_clicked_at": "2022-09-13T12:57:21.352Z",
        "last_clicked_at": "2022-09-13T12:57:21.352Z",
        "token_url": "https://the-link-to-redeem-this-order-item",
        "select_link_id": "the-link-id",
        "select_link": {"id": "SL-ABCD123", "currency": "GBP", "initial_balance": 10, "unspent_balance": 10},
        "delivery_email": "string",
        "deliveries": [
            {"id": 0, "order_item_id": "string", "email_address": "string", "queued_at": "2022-09-13T12:57:21.352Z"}
        ],
    }
]

ORDER_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$"
LINK_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def assert_same_shape(ours: Any, seed: Any, where: str = "$", *, nullable: frozenset[str] = frozenset()) -> None:
    """Ours has exactly the seed's members, each of the seed's JSON type (recursively; the first
    element of the seed's arrays against each of ours). `nullable`: paths where the seed shows a
    value and ours may be null (a link not clicked yet), or the seed null and ours a value."""
    if where in nullable and (ours is None or seed is None):
        return
    assert json_type(ours) == json_type(seed), f"{where}: {json_type(ours)} {ours!r}, the seed has {seed!r}"
    if isinstance(seed, dict):
        assert set(ours) == set(seed), f"{where}: {sorted(set(ours) ^ set(seed))}"
        for k, v in seed.items():
            assert_same_shape(ours[k], v, f"{where}.{k}", nullable=nullable)
    elif isinstance(seed, list) and seed:
        for item in ours:
            assert_same_shape(item, seed[0], f"{where}[]", nullable=nullable)


@dataclass
class Buyer:
    account_id: str
    name: str
    token: str
    card_id: str  # the GBP prepaid funding source

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.token}


PRODUCTS = (
    {
        "id": "books-gb",
        "name": "Books GB",
        "currency": "GBP",
        "countries": ["GB"],
        "denominations": {"values": [500, 1000, 2500]},
    },
    {
        "id": "music-gb",
        "name": "Music GB",
        "currency": "GBP",
        "countries": ["GB"],
        "denominations": {"min": 100, "max": 10000, "step": 1},
    },
    {
        "id": "films-gb",
        "name": "Films GB",
        "currency": "GBP",
        "countries": ["GB"],
        "denominations": {"min": 500, "max": 5000, "step": 1},
    },
)


async def gb_buyer(rt: Runtime, *, funds: int = 1_000_000, name: str = "Company Name") -> Buyer:
    if await factories.operator_once(rt):
        await factories.product(rt)
        for p in PRODUCTS:
            await factories.product(rt, **p)
    t = await factories.tenant(rt, name=name)
    if funds:
        await factories.fund(rt, t.account_id, funds, "GBP")
    async with rt.uow() as uow:
        source = await sources.prepaid(uow, account_id=t.account_id, currency="GBP")
        await uow.commit()
    return Buyer(t.account_id, t.name, t.token, source.id)
