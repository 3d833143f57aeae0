"""The Wix dialect's tests: a caller that sends `Authorization: <token>` (no `Bearer `) and
`wix-site-id`, as Wix's own clients do, and asserts Wix's error bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.factories import Tenant

MOUNT = "/gift-cards/v1"
CARDS = f"{MOUNT}/gift-cards"
SITE = "fcd82f0c-0000-4000-8000-000000000001"


@dataclass
class Wix:
    client: httpx.AsyncClient
    tenant: Tenant

    async def call(self, method: str, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": self.tenant.token, "wix-site-id": SITE, **kw.pop("headers", {})}
        return await self.client.request(method, path, json=json, headers=headers, **kw)

    async def ok(self, method: str, path: str, json: Any = None, **kw: Any) -> Any:
        r = await self.call(method, path, json, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    async def create(self, **card: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "giftCard": {"initialValue": {"amount": "50.00"}, "currency": "USD", "source": "MANUAL", **card}
        }
        got: dict[str, Any] = (await self.ok("POST", CARDS, body))["giftCard"]
        return got

    async def query(self, query: dict[str, Any]) -> dict[str, Any]:
        got: dict[str, Any] = await self.ok("POST", f"{CARDS}/query", {"query": query})
        return got

    async def all_ids(self, filter: Any = None, sort: Any = None, limit: int = 2) -> list[str]:
        """Every card of a query, walking its pages; the count agrees."""
        out: list[str] = []
        cursor = None
        while True:
            q: dict[str, Any] = {"filter": filter, "cursorPaging": {"limit": limit, "cursor": cursor}}
            if sort is not None:
                q["sort"] = sort
            page = await self.query(q)
            out += [c["id"] for c in page["giftCards"]]
            meta = page["pagingMetadata"]
            assert meta["count"] == len(page["giftCards"])
            if not meta["hasNext"]:
                assert meta["cursors"]["next"] is None
                break
            cursor = meta["cursors"]["next"]
        counted = await self.ok("POST", f"{CARDS}/count", {"filter": filter})
        assert counted == {"count": len(out)}, (filter, counted, out)
        return out


def app_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"message", "details"}, body
    err = body["details"]["applicationError"]
    assert set(err) == {"code", "description", "data"}, err
    assert err["code"] == code, body
    assert err["description"] == body["message"]
    return body


def field_error(r: httpx.Response, field: str, rule: str | None = None) -> dict[str, Any]:
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"message", "details"}, body
    (v,) = body["details"]["validationError"]["fieldViolations"]
    assert set(v) == {"field", "description", "violatedRule"}, v
    assert v["field"] == field, body
    if rule is not None:
        assert v["violatedRule"] == rule, body
    return v
