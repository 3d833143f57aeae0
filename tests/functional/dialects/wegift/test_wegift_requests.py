"""`/v2` beyond the seed's examples: the X-API-Key and X-Api-Version headers, every refusal in
the `{type, message, help}` body (nothing written), the one-country rule, amounts with more
decimals than the currency has, the order list around an order (`limit`, `before`, `after`), the
product list by country, and the link emailed through a real SMTP server. Both databases."""

from __future__ import annotations

import sqlalchemy as sa

from giftwell.store.models import Order
from tests import factories
from tests.functional.delivery_support import LINK, work
from tests.functional.dialects.wegift.support import V2, gb_buyer
from tests.peers import smtp_server


def body(buyer, **changes):
    return {
        "items": [{"country": "GB", "face_value": 10}],
        "idempotency_key": "k-1",
        "card_id": buyer.card_id,
        **changes,
    }


def refused(r, status, kind, field=None):
    assert r.status_code == status, r.text
    data = r.json()
    assert data["type"] == kind, data
    for part in ("message", "help"):
        assert isinstance(data[part], str)
        assert data[part]
    if kind in ("validation_error", "product_validation_error"):
        assert field is not None
        assert field in [d["field"] for d in data["details"]], data
    else:
        assert set(data) == {"type", "message", "help"}, data
    return data


async def orders(rt) -> int:
    async with rt.reader() as uow:
        return int((await uow.conn.execute(sa.select(sa.func.count()).select_from(Order))).scalar_one())


async def test_keys_and_versions(rt, app_client):
    buyer = await gb_buyer(rt)
    refused(await app_client.get(f"{V2}/order"), 401, "invalid_api_key")
    refused(await app_client.get(f"{V2}/order", headers={"X-API-Key": "gw_nope"}), 401, "invalid_api_key")
    # A bearer token is not this dialect's key.
    bearer = {"Authorization": f"Bearer {buyer.token}"}
    refused(await app_client.get(f"{V2}/order", headers=bearer), 401, "invalid_api_key")
    # Header names are case-insensitive (the PHP integrator sends X-API-KEY).
    assert (await app_client.get(f"{V2}/order", headers={"X-API-KEY": buyer.token})).status_code == 200
    ok = await app_client.get(f"{V2}/order", headers={**buyer.headers, "X-Api-Version": "2023-01-16"})
    assert ok.status_code == 200
    refused(
        await app_client.get(f"{V2}/order", headers={**buyer.headers, "X-Api-Version": "2024-02-05"}),
        400,
        "invalid_version",
    )
    reader = await factories.tenant(rt, scopes=["orders:read"])
    r = await app_client.post(f"{V2}/order", json=body(buyer), headers={"X-API-Key": reader.token})
    refused(r, 403, "forbidden")
    refused(await app_client.get(f"{V2}/nothing", headers=buyer.headers), 404, "not_found")
    assert await orders(rt) == 0


async def test_refused_orders_write_nothing(rt, app_client):
    buyer = await gb_buyer(rt, funds=5000)
    h = buyer.headers
    post = lambda b: app_client.post(f"{V2}/order", json=b, headers=h)  # noqa: E731
    refused(await app_client.post(f"{V2}/order", content=b"{nope", headers=h), 400, "bad_request")
    refused(await app_client.post(f"{V2}/order", content=b"[1]", headers=h), 400, "bad_request")
    refused(
        await post({"items": [{"country": "GB", "face_value": 10}], "card_id": buyer.card_id}),
        422,
        "validation_error",
        "idempotency_key",
    )
    refused(await post(body(buyer, items=[])), 422, "validation_error", "items")
    refused(await post(body(buyer, items=[{"country": "GB"}])), 422, "validation_error", "items[0].face_value")
    refused(
        await post(body(buyer, items=[{"country": "GB", "face_value": "10"}])),
        422,
        "validation_error",
        "items[0].face_value",
    )
    refused(
        await post(body(buyer, items=[{"country": "GB", "face_value": True}])),
        422,
        "validation_error",
        "items[0].face_value",
    )
    refused(
        await post(body(buyer, items=[{"country": "GB", "face_value": 10.005}])),
        422,
        "validation_error",
        "items[0].face_value",
    )
    refused(
        await post(body(buyer, items=[{"country": "GB", "face_value": 1e300}])),
        422,
        "validation_error",
        "items[0].face_value",
    )
    refused(
        await post(body(buyer, items=[{"country": "GB", "face_value": -5}])),
        422,
        "validation_error",
        "items[0].face_value",
    )
    refused(
        await post(body(buyer, items=[{"country": "gb", "face_value": 5}])), 422, "validation_error", "items[0].country"
    )
    # Less than the smallest card of the products offered (books-gb sells 5, 10, 25): nothing to pick.
    small = body(buyer, items=[{"country": "GB", "face_value": 4}], products=["books-gb"])
    data = refused(await post(small), 422, "validation_error", "items[0].face_value")
    assert "smallest" in data["message"]
    refused(
        await post(body(buyer, items=[{"country": "GB", "face_value": 5, "delivery-email": "a@b.c"}])),
        422,
        "validation_error",
        "items[0].delivery-email",
    )
    refused(
        await post(body(buyer, items=[{"country": "GB", "face_value": 5, "delivery_email": "not an address"}])),
        422,
        "validation_error",
        "items[0].delivery_email",
    )
    refused(await post(body(buyer, extra=1)), 422, "validation_error", "extra")
    mixed = await post(
        body(
            buyer,
            items=[
                {"country": "GB", "face_value": 5},
                {"country": "US", "face_value": 5},
                {"country": "IE", "face_value": 5},
            ],
        )
    )
    data = refused(mixed, 422, "validation_error", "items[1].country")
    assert [d["field"] for d in data["details"]] == ["items[1].country", "items[2].country"]
    refused(await post(body(buyer, products=["nope"])), 422, "product_validation_error", "products[0]")
    refused(await post(body(buyer, products=["books-gb", "acme-usd"])), 422, "product_validation_error", "products[1]")
    refused(await post(body(buyer, card_id="wg123abc")), 422, "invalid_card_id")
    other = await gb_buyer(rt, name="Other Ltd")
    refused(await post(body(buyer, card_id=other.card_id)), 422, "invalid_card_id")
    await factories.fund(rt, buyer.account_id, 1000, "USD")
    usd = await app_client.get("/v1/funding-sources", headers={"Authorization": f"Bearer {buyer.token}"})
    usd_id = next(s["id"] for s in usd.json()["data"] if s["currency"] == "USD")
    refused(await post(body(buyer, card_id=usd_id)), 422, "currency_mismatch")
    refused(await post(body(buyer, items=[{"country": "GB", "face_value": 51}])), 422, "insufficient_funds")
    assert await orders(rt) == 0
    refused(await app_client.get(f"{V2}/order/O-NOPE", headers=h), 404, "not_found")
    refused(await app_client.get(f"{V2}/order/ord_x", headers=h), 404, "not_found")
    made = (await post(body(buyer))).json()
    refused(await app_client.get(f"{V2}/order/{made['id']}", headers=other.headers), 404, "not_found")
    refused(await app_client.get(f"{V2}/order/{made['id']}/links", headers=other.headers), 404, "not_found")


async def test_the_order_list_around_an_order(rt, app_client, clock):
    buyer = await gb_buyer(rt)
    made = []
    for n in range(5):
        clock.advance(seconds=1)
        r = await app_client.post(f"{V2}/order", json=body(buyer, idempotency_key=f"k-{n}"), headers=buyer.headers)
        made.append(r.json()["id"])
    newest = list(reversed(made))
    get = lambda **q: app_client.get(f"{V2}/order", params=q, headers=buyer.headers)  # noqa: E731
    assert [o["id"] for o in (await get()).json()] == newest
    assert [o["id"] for o in (await get(limit=2)).json()] == newest[:2]
    assert [o["id"] for o in (await get(limit=2, after=newest[1])).json()] == newest[2:4]
    assert [o["id"] for o in (await get(limit=2, before=newest[3])).json()] == newest[1:3]
    assert [o["id"] for o in (await get(before=newest[0])).json()] == []
    for q in ({"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"before": newest[0], "after": newest[1]}):
        refused(await get(**q), 400, "pagination_error")
    other = await gb_buyer(rt, name="Other Ltd")
    r = await app_client.get(f"{V2}/order", params={"after": newest[0]}, headers=other.headers)
    refused(r, 400, "pagination_error")
    assert (await app_client.get(f"{V2}/order", headers=other.headers)).json() == []


async def test_products_by_country(rt, app_client):
    buyer = await gb_buyer(rt)
    r = await app_client.get(f"{V2}/product", params={"country_code": "GB"}, headers=buyer.headers)
    assert r.status_code == 200, r.text
    found = {p["code"]: p for p in r.json()}
    assert set(found) == {"books-gb", "music-gb", "films-gb"}
    assert found["books-gb"] == {
        "code": "books-gb",
        "name": "Books GB",
        "image_url": None,
        "currency": "GBP",
        "denomination_type": "fixed",
        "available_denominations": [5, 10, 25],
    }
    assert found["music-gb"]["denomination_type"] == "open"
    assert (found["music-gb"]["minimum_value"], found["music-gb"]["maximum_value"]) == (1, 100)
    us = await app_client.get(f"{V2}/product", params={"country_code": "US"}, headers=buyer.headers)
    assert [p["code"] for p in us.json()] == ["acme-usd"]
    refused(await app_client.get(f"{V2}/product", headers=buyer.headers), 422, "validation_error", "country_code")
    refused(
        await app_client.get(f"{V2}/product", params={"country_code": "XX"}, headers=buyer.headers),
        422,
        "validation_error",
        "country_code",
    )


async def test_delivery_email_sends_the_link(make_app):
    import httpx

    from tests.functional.delivery_support import runtime

    with smtp_server() as (url, smtp):
        app = make_app(smtp_url=url, mail_from="Gifts <gifts@example.com>", public_url="http://testserver")
        rt = runtime(app)
        buyer = await gb_buyer(rt)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            b = body(buyer, items=[{"country": "GB", "face_value": 10, "delivery_email": "Ada@Example.com"}])
            order = (await client.post(f"{V2}/order", json=b, headers=buyer.headers)).json()
            assert order["items"][0]["delivery_email"] == "ada@example.com"
            assert await work(app) == 1
            (msg,) = smtp.messages
            assert msg["To"] == "ada@example.com"
            (link,) = (await client.get(f"{V2}/order/{order['id']}/links", headers=buyer.headers)).json()
            assert LINK.findall(msg.get_content()) == [link["token_url"]]
            assert "£10.00" in msg.get_content()
            assert link["deliveries"][0]["email_address"] == "ada@example.com"
