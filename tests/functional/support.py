"""A small caller for the native API: exact status and envelope checks in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from giftwell.services.ledger import verify
from giftwell.services.runtime import Runtime
from tests.factories import Tenant

ENVELOPE_KEYS = {"type", "code", "message", "param", "request_id"}
GENERATED_CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")
TRANSFER_FIELDS = {"id", "kind", "status", "amount", "currency", "balance_after", "reference", "created_at"}


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [x["id"] for x in items]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def summary(transfers: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(t["kind"], t["status"], t["amount"], t["balance_after"]) for t in transfers]


def expect_error(r: httpx.Response, status: int, code: str, param: str | None) -> dict[str, Any]:
    """Assert `r` is the native error envelope with this status, code and param; return the error."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert set(err) >= ENVELOPE_KEYS, err
    assert (err["code"], err["param"]) == (code, param), err
    assert isinstance(err["message"], str), err
    assert err["message"], err
    assert err["request_id"] == r.headers["x-request-id"], err
    return err


@dataclass
class Api:
    """Calls the app as one tenant."""

    client: httpx.AsyncClient
    tenant: Tenant

    @property
    def headers(self) -> dict[str, str]:
        return self.tenant.headers

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        key: str | None = None,
    ) -> httpx.Response:
        h = {**self.headers, **(headers or {})}
        if key is not None:
            h["Idempotency-Key"] = key
        return await self.client.request(method, path, json=json, params=params, headers=h)

    async def ok(self, method: str, path: str, json: Any = None, *, status: int = 200, **kw: Any) -> Any:
        r = await self.call(method, path, json, **kw)
        assert r.status_code == status, r.text
        return r.json()

    async def error(
        self, method: str, path: str, json: Any = None, *, status: int, code: str, param: str | None, **kw: Any
    ) -> dict[str, Any]:
        return expect_error(await self.call(method, path, json, **kw), status, code, param)

    async def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return await self.ok("POST", path, json, **kw)

    async def get(self, path: str, **kw: Any) -> Any:
        return await self.ok("GET", path, **kw)

    async def new_card(self, currency: str = "EUR", amount: int | None = 5000, **body: Any) -> dict[str, Any]:
        """Issue a card through the API; returns the create response (with its code)."""
        payload: dict[str, Any] = {"currency": currency, **body}
        if amount is not None:
            payload["amount"] = amount
        card: dict[str, Any] = await self.post("/v1/cards", payload, status=201)
        return card

    async def card(self, card_id: str) -> dict[str, Any]:
        card: dict[str, Any] = await self.get(f"/v1/cards/{card_id}")
        return card

    async def transfers(self, card_id: str) -> list[dict[str, Any]]:
        """All of a card's transfers, newest first, walking every page."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            page = await self.get(f"/v1/cards/{card_id}/transfers", params=params)
            out += page["data"]
            if not page["has_more"]:
                return out
            cursor = page["next_cursor"]

    async def list_all(self, **params: Any) -> list[dict[str, Any]]:
        """Every card matching `params`, walking the pages with the cursor."""
        out: list[dict[str, Any]] = []
        params = {"limit": 100, **params}
        while True:
            page = await self.get("/v1/cards", params=params)
            out += page["data"]
            if not page["has_more"]:
                assert page["next_cursor"] is None
                return out
            params = {**params, "cursor": page["next_cursor"]}


async def assert_ledger_ok(rt: Runtime) -> None:
    """The ledger invariants hold (sums to zero, balances match transfers, nothing negative)."""
    async with rt.uow() as uow:
        report = await verify.verify(uow)
    assert report.ok, report.problems


async def money(api: Api, card_id: str) -> tuple[int, int]:
    card = await api.card(card_id)
    return card["balance"], card["available"]
