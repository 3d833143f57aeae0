"""Seed 002 replayed against `/v2`, field by field: the create-order request and its answer (the
seed's members, each of its JSON type, amounts as numbers in major units), the idempotency key
returning the original order whatever the body, the links list, and an order of three items whose
`products` restricts the choice to two products. Both databases."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlsplit

import sqlalchemy as sa

from giftwell.services.orders import fulfilment
from giftwell.store.models import Order
from tests.functional.dialects.wegift.support import (
    LINK_TIME,
    ORDER_TIME,
    SEED_CREATE_REQUEST,
    SEED_CREATE_RESPONSE,
    SEED_LINKS_RESPONSE,
    V2,
    assert_same_shape,
    gb_buyer,
)
from tests.functional.support import assert_ledger_ok


def seed_body(buyer, **changes):
    return {**SEED_CREATE_REQUEST, "card_id": buyer.card_id, **changes}


async def test_the_seeds_create_order_example(rt, app_client):
    buyer = await gb_buyer(rt)
    r = await app_client.post(f"{V2}/order", json=seed_body(buyer), headers=buyer.headers)
    assert r.status_code == 201, r.text
    ours = r.json()
    # A one-link order is made in the request: complete, with its final values and its token.
    assert_same_shape(
        ours,
        SEED_CREATE_RESPONSE,
        nullable=frozenset({"$.final_values", "$.items[].current_token", "$.items[].delivery_email"}),
    )
    assert ours["id"].startswith("O-")
    assert ours["customer_id"] == "C-" + buyer.account_id.removeprefix("acct_")
    assert ours["customer_name"] == "Company Name"
    assert (ours["description"], ours["user_id"], ours["customisation"], ours["card_payment_details"]) == (None,) * 4
    assert re.match(ORDER_TIME, ours["created_at"]), ours["created_at"]
    assert ours["is_complete"] is True
    assert ours["card_payment_id"].startswith("rcpt_")
    assert (ours["currency"], ours["countries"]) == ("GBP", ["GB"])
    assert ours["initial_values"] == {"link_count": 1, "total_price": 10, "total_value": 10}
    assert ours["final_values"] == {"link_count": 1, "total_price": 10, "total_value": 10}
    assert ours["product_count"] == 3  # every product sold in GB: no `products` given
    (item,) = ours["items"]
    assert item["id"].startswith("E-")
    assert item["order_id"] == ours["id"]
    assert (item["country"], item["currency"], item["face_value"], item["price"]) == ("GB", "GBP", 10, 10)
    assert item["delivery_email"] is None
    assert item["current_token"].startswith("OIT-")
    assert item["tokens"] == [item["current_token"]]
    # The receipt is the buyer's, for this order's charge.
    receipt = await app_client.get(
        f"/v1/receipts/{ours['card_payment_id']}", headers={"Authorization": f"Bearer {buyer.token}"}
    )
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["amount"] == 1000
    # GET answers the same order.
    again = await app_client.get(f"{V2}/order/{ours['id']}", headers=buyer.headers)
    assert again.json() == ours
    await assert_ledger_ok(rt)


async def test_an_order_still_being_made_is_the_seeds_example_exactly(rt, app_client):
    buyer = await gb_buyer(rt)
    items = [{"country": "GB", "face_value": 1, "delivery_email": f"r{i}@example.com"} for i in range(11)]
    r = await app_client.post(f"{V2}/order", json=seed_body(buyer, items=items), headers=buyer.headers)
    assert r.status_code == 201, r.text
    ours = r.json()
    # More than ten links are made in the background: the seed's answer, null for null, except
    # the receipt, which exists once the first link is charged (the order only holds the funds).
    assert_same_shape(ours, SEED_CREATE_RESPONSE, nullable=frozenset({"$.card_payment_id"}))
    assert (ours["is_complete"], ours["final_values"], ours["card_payment_id"]) == (False, None, None)
    assert ours["initial_values"] == {"link_count": 11, "total_price": 11, "total_value": 11}
    assert [(i["current_token"], i["tokens"]) for i in ours["items"]] == [(None, [])] * 11
    assert ours["items"][3]["delivery_email"] == "r3@example.com"
    links = await app_client.get(f"{V2}/order/{ours['id']}/links", headers=buyer.headers)
    assert links.json() == []
    await fulfilment.fulfil(rt, "ord_" + ours["id"].removeprefix("O-"))
    done = (await app_client.get(f"{V2}/order/{ours['id']}", headers=buyer.headers)).json()
    assert done["is_complete"] is True
    assert done["final_values"] == {"link_count": 11, "total_price": 11, "total_value": 11}
    assert done["card_payment_id"].startswith("rcpt_")
    await assert_ledger_ok(rt)


async def test_the_idempotency_key_returns_the_original_order_whatever_the_body(rt, app_client):
    buyer = await gb_buyer(rt)
    first = await app_client.post(f"{V2}/order", json=seed_body(buyer), headers=buyer.headers)
    assert first.status_code == 201, first.text
    for change in (
        {"items": [{"country": "GB", "face_value": 25}]},
        {"items": [{"country": "GB", "face_value": 10}, {"country": "GB", "face_value": 10}]},
        {"products": ["books-gb"]},
        {"card_id": "fs_nobody"},
    ):
        again = await app_client.post(f"{V2}/order", json=seed_body(buyer, **change), headers=buyer.headers)
        assert again.status_code == 201, (change, again.text)
        assert again.json() == first.json(), change
    async with rt.reader() as uow:
        orders = (await uow.conn.execute(sa.select(Order.id, Order.charged))).all()
    assert [int(o.charged) for o in orders] == [1000]
    # Another buyer's same key is its own order.
    other = await gb_buyer(rt, name="Other Ltd")
    theirs = await app_client.post(f"{V2}/order", json=seed_body(other), headers=other.headers)
    assert theirs.json()["id"] != first.json()["id"]


async def test_the_seeds_links_example(rt, app_client):
    buyer = await gb_buyer(rt)
    body = seed_body(buyer, items=[{"country": "GB", "face_value": 10, "delivery_email": "ada@example.com"}])
    order = (await app_client.post(f"{V2}/order", json=body, headers=buyer.headers)).json()
    r = await app_client.get(f"{V2}/order/{order['id']}/links", headers=buyer.headers)
    assert r.status_code == 200, r.text
    ours = r.json()
    # Not clicked yet: the click times are null until the recipient opens the link.
    assert_same_shape(ours, SEED_LINKS_RESPONSE, nullable=frozenset({"$[].first_clicked_at", "$[].last_clicked_at"}))
    (link,) = ours
    item = order["items"][0]
    assert (link["id"], link["order_id"], link["order_item_token_id"]) == (
        item["id"],
        order["id"],
        item["current_token"],
    )
    assert (link["currency"], link["face_value"], link["price"]) == ("GBP", 10, 10)
    assert re.match(LINK_TIME, link["token_created_at"])
    assert link["token_url"].startswith("http")
    assert "/r/" in link["token_url"]
    assert link["select_link_id"] == link["select_link"]["id"]
    assert link["select_link"] == {
        "id": link["select_link_id"],
        "currency": "GBP",
        "initial_balance": 10,
        "unspent_balance": 10,
    }
    assert link["delivery_email"] == "ada@example.com"
    (sent,) = link["deliveries"]
    assert sent["id"] == 1
    assert (sent["order_item_id"], sent["email_address"]) == (item["id"], "ada@example.com")
    assert re.match(LINK_TIME, sent["queued_at"])
    # Opening the page is a click.
    page = await app_client.get(urlsplit(link["token_url"]).path)
    assert page.status_code == 200
    (clicked,) = (await app_client.get(f"{V2}/order/{order['id']}/links", headers=buyer.headers)).json()
    assert_same_shape([clicked], SEED_LINKS_RESPONSE)
    assert clicked["first_clicked_at"] == clicked["last_clicked_at"]


async def test_three_items_with_products_restricted_to_two(rt, app_client):
    buyer = await gb_buyer(rt)
    body = seed_body(
        buyer,
        items=[
            {"country": "GB", "face_value": 10},
            {"country": "GB", "face_value": 25.5},
            {"country": "GB", "face_value": "x"},
        ],
        products=["books-gb", "music-gb"],
    )
    bad = await app_client.post(f"{V2}/order", json=body, headers=buyer.headers)
    assert bad.status_code == 422
    assert bad.json()["details"] == [
        {"field": "items[2].face_value", "message": "items[2].face_value must be a number"}
    ]
    body["items"][2]["face_value"] = 7
    r = await app_client.post(f"{V2}/order", json=body, headers=buyer.headers)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["product_count"] == 2
    assert order["initial_values"] == {"link_count": 3, "total_price": Decimal("42.5"), "total_value": Decimal("42.5")}
    assert [i["face_value"] for i in order["items"]] == [10, 25.5, 7]
    links = (await app_client.get(f"{V2}/order/{order['id']}/links", headers=buyer.headers)).json()
    assert len(links) == 3
    assert len({link["token_url"] for link in links}) == 3
    assert [link["select_link"]["initial_balance"] for link in links] == [10, 25.5, 7]
    native = await app_client.get(
        f"/v1/orders/ord_{order['id'].removeprefix('O-')}/links", headers={"Authorization": f"Bearer {buyer.token}"}
    )
    assert [link["products"] for link in native.json()["data"]] == [["books-gb", "music-gb"]] * 3
    await assert_ledger_ok(rt)
