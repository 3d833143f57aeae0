"""A client of a WizzGift-compatible B2B API (seed 000): the token endpoint, orders and products,
over httpx. Another Giftwell's `/api/b2b` is one such API.

Every call either returns what the upstream said, read into the domain's values
(`domain.suppliers`), or raises one of the domain's upstream errors:
`UpstreamUnavailable` (5xx, 429, a timeout, a connection refused, an answer we cannot read: try
again later), `UpstreamUnauthorized` (401) or `UpstreamRefused` (another 4xx, with the
upstream's message). Numbers are read as exact decimals and amounts sent as exact JSON numbers;
nothing passes through a float. No secret, token or code ever goes into an error message.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import orjson

from giftwell.domain.money import decimal_text
from giftwell.domain.suppliers import (
    Tokens,
    UpstreamCard,
    UpstreamField,
    UpstreamOrder,
    UpstreamProduct,
    UpstreamRefused,
    UpstreamSku,
    UpstreamUnauthorized,
    UpstreamUnavailable,
)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(decimal_text(value).encode())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _loads(raw: bytes) -> Any:
    return json.loads(raw, parse_float=Decimal, parse_int=Decimal)


def _message(data: Any, status: int) -> str:
    if isinstance(data, dict):
        for key in ("message", "error_description", "error"):
            if isinstance(data.get(key), str) and data[key]:
                return str(data[key])
    return f"HTTP {status}"


def _str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    return str(value) if isinstance(value, str | Decimal | int) else None


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_card(data: Any) -> UpstreamCard:
    if not isinstance(data, dict) or not isinstance(data.get("status"), str):
        raise ValueError("a redeemInfos entry needs a status")
    return UpstreamCard(
        status=data["status"].strip(),  # the seed's table says "completed " with a space once
        code=_str(data, "code"),
        pin=_str(data, "pin"),
        serial=_str(data, "serial"),
        link=_str(data, "link"),
        reward_id=_str(data, "rewardId"),
        transaction_id=_str(data, "transactionId"),
        expiry_date=_date(data.get("expiryDate")),
        instruction=_str(data, "instruction"),
    )


def parse_order(data: Any) -> UpstreamOrder:
    """An order as `GET /order` answers it (`data`) or a webhook carries it. ValueError if it is
    not one."""
    if not isinstance(data, dict) or not isinstance(data.get("status"), str):
        raise ValueError("an order needs a status")
    infos = data.get("redeemInfos")
    if infos is None:
        infos = []
    if not isinstance(infos, list):
        raise ValueError("redeemInfos must be a list")
    quantity = data.get("orderedQuantity")
    return UpstreamOrder(
        id=str(data.get("id") or ""),
        reference_id=str(data.get("referenceId") or ""),
        status=data["status"].strip(),
        ordered_quantity=int(quantity) if isinstance(quantity, Decimal | int) else None,
        cards=tuple(parse_card(i) for i in infos),
    )


def _field(data: dict[str, Any]) -> UpstreamField:
    options = data.get("selectValues") or []
    return UpstreamField(
        id=str(data["id"]),
        name=str(data.get("name") or data["id"]),
        type="select" if data.get("type") == "select" else "input",
        description=str(data.get("description") or ""),
        required=data.get("required") is not False,
        options=tuple(str(o) for o in options if isinstance(o, str)),
    )


def parse_product(data: Any) -> UpstreamProduct:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise ValueError("a product needs an id")
    skus = [s for s in data.get("skus") or [] if isinstance(s, dict)]
    fields = [f for f in data.get("requiredInfoFromUser") or [] if isinstance(f, dict) and "id" in f]
    return UpstreamProduct(
        id=data["id"],
        name=str(data.get("name") or data["id"]),
        currency=str(data.get("currencyCode") or ""),
        skus=tuple(UpstreamSku(s.get("min"), s.get("max"), s.get("changeStep")) for s in skus),
        fields=tuple(_field(f) for f in fields),
        description=str(data.get("description") or ""),
        disclosure=str(data.get("disclosure") or ""),
        instruction=str(data.get("instruction") or ""),
        image=_str(data, "image"),
        countries=tuple(str(c) for c in data.get("countries") or [] if isinstance(c, str)),
        categories=tuple(str(c) for c in data.get("category") or [] if isinstance(c, str)),
    )


class WizzGiftApi:
    """The API at `base_url` (its `/api/b2b`, say), one call per method."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = orjson.dumps(body, default=_default)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                r = await client.request(method, self.base_url + path, content=content, headers=headers, params=params)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"{method} {path}: {type(exc).__name__}") from None
        try:
            data = _loads(r.content) if r.content else None
        except ValueError:
            data = None
        if r.status_code >= 500 or r.status_code == 429:
            raise UpstreamUnavailable(f"{method} {path}: {_message(data, r.status_code)}", status=r.status_code)
        if r.status_code == 401:
            raise UpstreamUnauthorized(_message(data, r.status_code), status=401)
        if r.status_code >= 400:
            raise UpstreamRefused(_message(data, r.status_code), status=r.status_code)
        if not isinstance(data, dict):
            raise UpstreamUnavailable(f"{method} {path}: the answer is not a JSON object", status=r.status_code)
        return data

    async def token(self, params: dict[str, str]) -> Tokens:
        """`POST /oauth/token` with the seed's JSON body (any grant)."""
        data = await self._call("POST", "/oauth/token", body=params)
        access, expires = data.get("access_token"), data.get("expires_in")
        if not isinstance(access, str) or not access:
            raise UpstreamUnavailable("POST /oauth/token: no access_token in the answer")
        refresh = data.get("refresh_token")
        return Tokens(
            access_token=access,
            expires_in=int(expires) if isinstance(expires, Decimal | int) and expires > 0 else 3600,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        )

    async def create_order(self, token: str, body: dict[str, Any]) -> str:
        """`POST /order`; the upstream's order id."""
        data = await self._call("POST", "/order", body=body, token=token)
        got = data.get("data")
        if data.get("success") is not True or not isinstance(got, dict) or not got.get("id"):
            raise UpstreamRefused(_message(data, 200), status=200)
        return str(got["id"])

    async def get_order(self, token: str, *, reference_id: str) -> UpstreamOrder | None:
        """`GET /order?referenceId=`; None when the upstream has no such order (a 404)."""
        try:
            data = await self._call("GET", "/order", token=token, params={"referenceId": reference_id})
        except UpstreamRefused as exc:
            if exc.status == 404:
                return None
            raise
        try:
            return parse_order(data.get("data"))
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamUnavailable(f"GET /order: unreadable order ({exc})") from None

    async def products(self, token: str) -> list[UpstreamProduct]:
        data = await self._call("GET", "/products", token=token)
        items = data.get("data")
        if not isinstance(items, list):
            raise UpstreamUnavailable("GET /products: no product list in the answer")
        try:
            return [parse_product(p) for p in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamUnavailable(f"GET /products: unreadable product ({exc})") from None
