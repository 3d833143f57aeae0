"""Order and item metadata: string keys and values within Stripe's limits, stored, returned on
the order, and searchable by exact key and value, never across accounts. Both databases."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories
from tests.functional.support import Api, expect_error


def order(reference: str, metadata: Any = None, item_metadata: Any = None) -> dict[str, Any]:
    item: dict[str, Any] = {"product": "acme-usd", "amount": 1000}
    if item_metadata is not None:
        item["metadata"] = item_metadata
    body: dict[str, Any] = {"reference": reference, "items": [item, {"product": "acme-usd", "amount": 500}]}
    if metadata is not None:
        body["metadata"] = metadata
    return body


@pytest.fixture
async def buyer(rt, app_client) -> Api:
    return Api(app_client, await factories.buyer(rt, funds=100_000))


async def test_metadata_is_stored_returned_and_searched_by_exact_key_and_value(rt, app_client, buyer: Api) -> None:
    made = await buyer.post(
        "/v1/orders", order("po-m1", {"campaign": "xmas", "cost_center": "42"}, {"employee": "E-7"}), status=200
    )
    assert made["metadata"] == {"campaign": "xmas", "cost_center": "42"}
    assert [i["metadata"] for i in made["items"]] == [{"employee": "E-7"}, {}]
    other = await buyer.post("/v1/orders", order("po-m2", {"campaign": "easter"}), status=200)
    plain = await buyer.post("/v1/orders", order("po-m3"), status=200)
    assert plain["metadata"] == {}

    shown = await buyer.get(f"/v1/orders/{made['id']}")
    assert shown["metadata"] == made["metadata"]
    assert shown["items"][0]["metadata"] == {"employee": "E-7"}

    async def found(**params: str) -> list[str]:
        return [o["id"] for o in (await buyer.get("/v1/orders", params=params))["data"]]

    assert await found() == [plain["id"], other["id"], made["id"]]
    assert await found(**{"metadata[campaign]": "xmas"}) == [made["id"]]
    assert await found(**{"metadata[campaign]": "easter"}) == [other["id"]]
    assert await found(**{"metadata[campaign]": "XMAS"}) == []  # exact
    assert await found(**{"metadata[campaign]": "xmas", "metadata[cost_center]": "42"}) == [made["id"]]
    assert await found(**{"metadata[campaign]": "xmas", "metadata[cost_center]": "43"}) == []
    assert await found(**{"item_metadata[employee]": "E-7"}) == [made["id"]]
    assert await found(**{"metadata[employee]": "E-7"}) == []  # an item's key is not the order's
    # The list shows the order's metadata too.
    listed = (await buyer.get("/v1/orders", params={"metadata[campaign]": "xmas"}))["data"][0]
    assert listed["metadata"] == {"campaign": "xmas", "cost_center": "42"}

    # Another account's metadata never matches.
    stranger = Api(app_client, await factories.buyer(rt, funds=100_000))
    await stranger.post("/v1/orders", order("po-x", {"campaign": "xmas"}), status=200)
    assert await found(**{"metadata[campaign]": "xmas"}) == [made["id"]]


@pytest.mark.parametrize(
    ("metadata", "item_metadata", "param"),
    [
        ({"k" * 41: "v"}, None, "metadata"),
        ({"k": "v" * 501}, None, "metadata.k"),
        ({"k": 5}, None, "metadata.k"),
        ({"k": None}, None, "metadata.k"),
        ({f"k{i}": "v" for i in range(51)}, None, "metadata"),
        ({"a[b]": "v"}, None, "metadata"),
        (["k"], None, "metadata"),
        (None, {"k": {"nested": "v"}}, "items[0].metadata.k"),
        (None, {"": "v"}, "items[0].metadata"),
    ],
    ids=["long-key", "long-value", "number", "null", "51-keys", "brackets", "list", "item-nested", "item-empty-key"],
)
async def test_metadata_limits_name_the_field(buyer: Api, metadata: Any, item_metadata: Any, param: str) -> None:
    r = await buyer.call("POST", "/v1/orders", order("po-bad", metadata, item_metadata))
    expect_error(r, 422, "validation_error", param)
    # Nothing was placed.
    assert (await buyer.get("/v1/orders"))["data"] == []


async def test_a_malformed_metadata_query_is_422(buyer: Api) -> None:
    for params in ({"metadata[]": "x"}, {"metadata[a": "x"}, {"metadata[" + "k" * 41 + "]": "x"}):
        await buyer.error("GET", "/v1/orders", params=params, status=422, code="validation_error", param="metadata")
