"""The soak's orders and webhooks: orders placed and cancelled by the same clients, and a webhook
receiver that refuses or hangs on some deliveries while the server is killed.

The model: a house product with no discount or fee, so an order's price is its face value. An
acknowledged order takes its price from the buyer's prepaid balance; an acknowledged cancel of the
whole order gives all of it back (a refund of what was captured, a release of what was only
reserved) (the soak never redeems an order's cards, so every card is
cancellable, and cards not yet issued are dropped). At the end, every order reaches a final state,
the prepaid balance is exactly the model's, and every order-result and block event was answered
2xx by the receiver at least once (the same `webhook-id` again is allowed: at least once).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tests.receivers import Receiver, Reply
from tests.servers import cli

if TYPE_CHECKING:
    from tests.soak import Soak

CURRENCY = "USD"
FUNDS = 10**12
PRODUCT: dict[str, Any] = {
    "id": "soak-usd",
    "name": "Soak Gift Card",
    "brand": "Soak",
    "currency": CURRENCY,
    "countries": ["US"],
    "categories": ["retail"],
    "image_url": None,
    "description": "",
    "denominations": {"min": 500, "max": 5000, "step": 10},
    "price": {"discount_bps": 0, "fee": 0},
    "required_fields": [],
    "expiry_months": 24,
    "supplier": "house",
    "active": True,
}
EVENTS = ["order.completed", "order.failed", "order.partial", "card.blocked", "card.unblocked"]
FINAL = {"completed", "partial", "failed", "cancelled"}
HOOK = "/hooks"


class FlakyReceiver(Receiver):
    """A webhook receiver that refuses (500) about one event in five on its first delivery and
    leaves one in twenty hanging past the sender's timeout; a retry of the same `webhook-id` is
    answered 200 (the schedule's second attempt comes 5 seconds later, the third 5 minutes)."""

    def __init__(self, rng: random.Random, timeout: float) -> None:
        super().__init__()
        self.rng = rng
        self.timeout = timeout
        self.tried: set[str] = set()

    def _next(self, path: str, headers: dict[str, str]) -> Reply:
        with self._lock:
            event = headers.get("webhook-id", "")
            if event in self.tried:
                return Reply()
            self.tried.add(event)
            roll = self.rng.random()
        return Reply(500) if roll < 0.2 else Reply(200, delay=self.timeout + 0.5) if roll < 0.25 else Reply()


def prepare_orders(env: dict[str, str], workdir: Path) -> None:
    """The operator, the product, and the buyer's (the soak account's) prepaid balance."""
    cli(env, "accounts", "create", "soak-operator", "--operator")
    products = workdir / "soak-products.json"
    products.write_text(json.dumps([PRODUCT]))
    cli(env, "products", "import", str(products))
    cli(env, "funding", "add", "--account", "soak", "--amount", str(FUNDS), "--currency", CURRENCY)


@dataclass
class OrderModel:
    id: str
    total: int
    cancelled: bool = False


class Orders:
    def __init__(self, soak: Soak, receiver: Receiver) -> None:
        self.soak = soak
        self.receiver = receiver
        self.orders: list[list[OrderModel]] = [[] for _ in range(soak.clients)]
        self.placed = 0
        self.cancelled = 0

    async def subscribe(self, http: httpx.AsyncClient) -> None:
        status, doc = await self.soak.call(
            http, "POST", "/v1/webhook-endpoints", {"url": self.receiver.url(HOOK), "events": EVENTS}
        )
        assert status == 201, doc

    async def place(self, http: httpx.AsyncClient, c: int) -> str:
        rng = self.soak.rng
        amount = rng.randrange(500, 5001, 10)
        quantity = rng.choice([1, 2, 3, 12, 25])  # more than 10: fulfilled in the background
        item = {"product": PRODUCT["id"], "amount": amount, "quantity": quantity}
        status, doc = await self.soak.call(
            http, "POST", "/v1/orders", {"reference": str(uuid.uuid4()), "items": [item]}
        )
        assert status in (200, 202), doc
        assert doc["total_price"] == amount * quantity, doc
        self.orders[c].append(OrderModel(doc["id"], doc["total_price"]))
        self.placed += 1
        return "order"

    async def cancel(self, http: httpx.AsyncClient, c: int) -> str:
        open_orders = [o for o in self.orders[c] if not o.cancelled]
        if not open_orders:
            return "noop"
        order = self.soak.rng.choice(open_orders)
        status, doc = await self.soak.call(http, "POST", f"/v1/orders/{order.id}/cancel", {})
        assert status == 200, doc
        order.cancelled = True
        self.cancelled += 1
        return "cancel"

    async def settle(self, http: httpx.AsyncClient, *, wait: float = 300.0) -> dict[str, Any]:
        """Every order final and as the model says; the prepaid balance to the cent; every event
        delivered at least once."""
        deadline = time.monotonic() + wait
        for order in (o for mine in self.orders for o in mine):
            while True:
                status, doc = await self.soak.call(http, "GET", f"/v1/orders/{order.id}")
                assert status == 200, doc
                if doc["status"] in FINAL:
                    break
                if time.monotonic() > deadline:
                    _, jobs = cli(
                        self.soak.env, "jobs", "list", "--kind", "order.fulfil", "--limit", "500", check=False
                    )
                    _, workers = cli(self.soak.env, "jobs", "workers", check=False)
                    mine = [j for j in jobs if order.id in json.dumps(j)] if isinstance(jobs, list) else jobs
                    raise AssertionError(f"order {order.id} still {doc['status']}: jobs {mine}, workers {workers}")
                await asyncio.sleep(0.5)
            if order.cancelled:
                # What was captured came back; what was only reserved was released (the balance
                # below shows both).
                assert doc["status"] == "cancelled", doc
                assert doc["refunded"] == doc["charged"], doc
            else:
                assert doc["status"] == "completed", doc
                assert (doc["charged"], doc["refunded"]) == (order.total, 0), doc
        spent = sum(o.total for mine in self.orders for o in mine if not o.cancelled)
        status, doc = await self.soak.call(http, "GET", "/v1/funding-sources")
        prepaid = [s for s in doc["data"] if s["currency"] == CURRENCY and s["type"] == "prepaid"]
        assert [(s["balance"], s["available"]) for s in prepaid] == [(FUNDS - spent, FUNDS - spent)], (doc, spent)
        delivered = await self.delivered(http, deadline)
        return {"orders": self.placed, "cancels": self.cancelled, "events_delivered": delivered}

    async def delivered(self, http: httpx.AsyncClient, deadline: float) -> int:
        """How many subscribed events were answered 2xx; waits until every one was."""
        wanted: set[str] = set()
        for kind in EVENTS:
            cursor: str | None = None
            while True:
                path = f"/v1/events?type={kind}&limit=100" + (f"&cursor={cursor}" if cursor else "")
                status, doc = await self.soak.call(http, "GET", path)
                assert status == 200, doc
                wanted |= {e["id"] for e in doc["data"]}
                if not doc["has_more"]:
                    break
                cursor = doc["next_cursor"]
        while True:
            answered = {r.headers.get("webhook-id") for r in self.receiver.by_path(HOOK) if r.answered}
            missing = wanted - answered
            if not missing:
                return len(wanted)
            assert time.monotonic() < deadline, f"{len(missing)} of {len(wanted)} events never delivered"
            await asyncio.sleep(0.5)
