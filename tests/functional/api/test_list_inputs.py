"""Every list answers a forged cursor, and a time without an offset, with a 422 naming the field:
never a 500. The cursors are what a client could send back in place of `next_cursor`: a number
or a naive time where a time with an offset belongs, a cursor of another sort, a string too big
for a balance, garbage. Both databases."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.functional.support import Api


def forged(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


async def lists(api: Api) -> list[str]:
    """The path of every paged list of the native API, for one tenant's own objects."""
    card = await api.new_card("EUR", 1000)
    endpoint = await api.post(
        "/v1/webhook-endpoints", {"url": "https://hooks.example.com/gw", "events": ["card.created"]}, status=201
    )
    return [
        "/v1/cards",
        f"/v1/cards/{card['id']}/transfers",
        "/v1/account/statement",
        "/v1/orders",
        "/v1/events",
        f"/v1/webhook-endpoints/{endpoint['id']}/attempts",
    ]


BAD_CURSORS = {
    "number-for-time": forged("-created_at", 5, "x"),
    "naive-time": forged("-created_at", "2026-01-01T00:00:00", "x"),
    "not-a-time": forged("-created_at", "yesterday", "x"),
    "list-for-time": forged("-created_at", [1], "x"),
    "bad-row-id": forged("-created_at", "2026-01-01T00:00:00+00:00", "x'; --"),
    "short": forged("-created_at", "2026-01-01T00:00:00+00:00"),
    "object": base64.urlsafe_b64encode(b'{"a": 1}').decode(),
    "not-json": base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    "not-base64": "!!!!",
    "huge-year": forged("-created_at", "99999-01-01T00:00:00+00:00", "x"),
}


@pytest.mark.parametrize("cursor", list(BAD_CURSORS.values()), ids=list(BAD_CURSORS))
async def test_a_forged_cursor_is_422_naming_cursor_on_every_list(api: Api, cursor: str) -> None:
    for path in await lists(api):
        await api.error("GET", path, params={"cursor": cursor}, status=422, code="validation_error", param="cursor")


async def test_a_cursor_of_another_sort_or_out_of_range_is_422(api: Api) -> None:
    await api.new_card("EUR", 1000)
    for cursor in (
        forged("-balance", 5, "card_x"),  # made for another sort
        forged("balance", 2**63, "card_x"),  # past the 64-bit balance column
        forged("balance", True, "card_x"),
        forged("balance", "5", "card_x"),
    ):
        await api.error(
            "GET",
            "/v1/cards",
            params={"cursor": cursor, "sort": "balance"},
            status=422,
            code="validation_error",
            param="cursor",
        )


@pytest.mark.parametrize("path", ["/v1/cards", "/v1/orders", "/v1/events"])
@pytest.mark.parametrize("field", ["created_gte", "created_lte"])
async def test_a_time_without_an_offset_is_422_naming_the_field(api: Api, path: str, field: str) -> None:
    await api.error(
        "GET", path, params={field: "2026-01-01T00:00:00"}, status=422, code="validation_error", param=field
    )


async def test_a_real_cursor_still_pages(api: Api) -> None:
    for _ in range(3):
        await api.new_card("EUR", 1000)
    first = await api.get("/v1/cards", params={"limit": 2})
    assert first["has_more"] is True
    rest = await api.get("/v1/cards", params={"limit": 2, "cursor": first["next_cursor"]})
    assert rest["has_more"] is False
    assert {c["id"] for c in first["data"]}.isdisjoint({c["id"] for c in rest["data"]})
    assert len(first["data"]) + len(rest["data"]) == 3
