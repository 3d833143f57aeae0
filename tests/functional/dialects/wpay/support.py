"""The Wpay dialect's tests: the seed's Submit Order body, the catalog it orders from, a buyer
with a registered signing key, and a caller that signs a fresh ES256 JWT for every request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from giftwell.services.catalog import products
from giftwell.services.ledger import verify
from giftwell.services.runtime import Runtime
from tests import factories, signing
from tests.signing import SigningClient

MOUNT = "/gifting/gco/client/api/v1"
ORDERS = f"{MOUNT}/orders"
SEED = Path(__file__).with_name("seed_order.json")
PRODUCT_ID = "c49a6126-71e4-4b03-a553-e87a18f2c98b"
DESIGN = {"id": "WWQ912SWAP01", "name": "Swap and save", "image_url": "https://images.example/designs/WWQ912SWAP01.png"}
WEB_IMAGE = "https://images.woolworths.com/images?id=9845185475"
RECIPIENT = "jane.recipient@example.com"
REDACTED = "[email\xa0protected]"  # with the no-break space the page had
FUNDS = 100_000  # 1,000.00 AUD
PRICE = 4875  # 50.00 AUD less 2.5%
PRODUCT: dict[str, Any] = {
    **factories.PRODUCT,
    "id": PRODUCT_ID,
    "name": "Woolworths eGift Card",
    "brand": "Woolworths",
    "currency": "AUD",
    "countries": ["AU"],
    "denominations": {"min": 1000, "max": 50000, "step": 100},
    "designs": [DESIGN],
}


def seed_text() -> str:
    """The seed's body, exactly, but for its three email addresses, which the page the seed was
    copied from had redacted to "[email protected]" (customer, recipient, operator, in order)."""
    text = SEED.read_text()
    for address in ("john.doe@example.com", RECIPIENT, "operator@example.com"):
        text = text.replace(REDACTED, address, 1)
    assert REDACTED not in text
    return text


def seed(**changes: Any) -> dict[str, Any]:
    """The seed's body as a dict (amounts exact), with top-level `changes`."""
    return {**json.loads(seed_text(), parse_float=Decimal), **changes}


def item(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`data` with its one gift item changed."""
    [it] = data["giftItemsInfo"]
    return {**data, "giftItemsInfo": [{**it, **changes}]}


def _encode(value: Any) -> str:
    """JSON with Decimals written exactly (the standard encoder would refuse them)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(value)


async def catalog(rt: Runtime) -> None:
    """The operator (once per database) and the seed's product, with its design."""
    await factories.operator_once(rt)
    async with rt.uow() as uow:
        await products.save(uow, PRODUCT)
        await uow.commit()


@dataclass
class Wpay:
    """A Wpay client of the app: signs a new JWT (new jti) for every call."""

    http: httpx.AsyncClient
    rt: Runtime
    signer: SigningClient

    def headers(self, *, correlation: str | None = "12313", token: str | None = None, **extra: str) -> dict[str, str]:
        h = {"Authorization": f"Bearer {token or self.signer.token(self.rt.clock())}", **extra}
        if correlation is not None:
            h["X-Correlation-Id"] = correlation
        return h

    async def call(
        self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        content = None
        if body is not None:
            content = body if isinstance(body, bytes) else _encode(body).encode()
        h = headers if headers is not None else self.headers(**kw)
        return await self.http.request(method, path, content=content, headers={"Content-Type": "application/json", **h})

    async def submit(self, body: Any, *, status: int = 200, **kw: Any) -> dict[str, Any]:
        r = await self.call("POST", ORDERS, body, **kw)
        assert r.status_code == status, r.text
        return r.json()

    async def refused(self, method: str, path: str, body: Any, *, status: int, code: str, **kw: Any) -> dict:
        r = await self.call(method, path, body, **kw)
        assert r.status_code == status, r.text
        err = r.json()
        assert set(err) == {"errorCode", "errorMessage", "correlationId", "field", "details"}, err
        assert err["errorCode"] == code, err
        assert err["errorMessage"], err
        return err


async def client(app: FastAPI, *, funds: int = FUNDS, scopes: list[str] | None = None) -> Wpay:
    """A funded buyer with a registered key, calling `app` (in-process)."""
    rt: Runtime = app.state.runtime
    await catalog(rt)
    t = await factories.tenant(rt)
    if funds:
        await factories.fund(rt, t.account_id, funds, "AUD")
    signer = await signing.register(rt, t.account_id, scopes=scopes)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    return Wpay(http, rt, signer)


async def ledger_ok(rt: Runtime) -> None:
    async with rt.uow() as uow:
        report = await verify.verify(uow)
    assert report.ok, report.problems


async def funding(rt: Runtime, account_id: str) -> tuple[int, int]:
    from giftwell.services.funding import balances

    async with rt.uow() as uow:
        b = {b.currency: b for b in await balances.balances(uow, account_id=account_id)}["AUD"]
    return b.balance, b.available
