"""The buyer's view of an order's cards, `GET /v1/orders/{id}/cards`: a page at a time in the
order's own order, each card with its status, code, initial and current balance, reward link,
first and last opening, and the latest delivery's status and attempts; while the order itself
(`GET /v1/orders/{id}`) shows counts. Both databases."""

from __future__ import annotations

import sqlalchemy as sa

from giftwell.services.cards import money as card_money
from giftwell.services.orders import fulfilment
from giftwell.store.models import Card
from tests import factories
from tests.functional.delivery_support import http, runtime, work
from tests.functional.support import Api, assert_ledger_ok


async def test_each_card_shows_balances_link_openings_and_its_delivery(make_app, clock):
    app = make_app(public_url="http://testserver")
    rt = runtime(app)
    t = await factories.buyer(rt, funds=100_000)
    api = Api(http(app), t)
    body = {
        "reference": "view-1",
        "items": [
            {
                "product": "acme-usd",
                "amount": 1000,
                "quantity": 2,
                "recipient": {"name": "Ada", "email": "ada@example.com"},
                "delivery": {"channel": "email"},
            },
            {"product": "acme-usd", "amount": 2500},
        ],
    }
    o = await api.ok("POST", "/v1/orders", body)
    before = (await api.ok("GET", f"/v1/orders/{o['id']}/cards"))["data"]
    assert [c["delivery"]["status"] for c in before[:2]] == ["queued", "queued"]
    assert [c["delivery"]["attempts"] for c in before[:2]] == [0, 0]
    assert before[2]["delivery"] is None
    assert await work(app) == 2
    clock.advance(seconds=5)
    async with http(app) as browser:
        opened = await browser.get(before[0]["link"].replace("http://testserver", ""))
        assert opened.status_code == 200
        clock.advance(seconds=60)
        assert (await browser.get(before[0]["link"].replace("http://testserver", ""))).status_code == 200
    async with rt.uow() as uow:
        issuer = await uow.conn.scalar(sa.select(Card.account_id).where(Card.id == before[2]["card_id"]))
        await card_money.redeem(uow, account_id=issuer, card_id=before[2]["card_id"], amount=700)
        await uow.commit()

    page = await api.ok("GET", f"/v1/orders/{o['id']}/cards")
    assert (page["has_more"], page["next_cursor"]) == (False, None)
    first, second, third = page["data"]
    assert [c["item"] for c in page["data"]] == [o["items"][0]["id"]] * 2 + [o["items"][1]["id"]]
    assert [(c["status"], c["card_status"]) for c in page["data"]] == [("issued", "active")] * 3
    assert [(c["initial_balance"], c["current_balance"]) for c in page["data"]] == [
        (1000, 1000),
        (1000, 1000),
        (2500, 1800),
    ]
    assert [c["code"] for c in page["data"]] == [c["code"] for c in before]
    assert first["link"] == before[0]["link"]
    assert first["open_count"] == 2
    assert first["first_opened_at"] is not None
    assert first["last_opened_at"] > first["first_opened_at"]
    assert (second["first_opened_at"], second["open_count"]) == (None, 0)
    d = first["delivery"]
    assert (d["channel"], d["status"], d["attempts"], d["to"]) == ("email", "sent", 1, "ada@example.com")
    assert d["sent_at"] is not None
    assert third["delivery"] is None
    # The order shows counts, never the cards.
    shown = await api.ok("GET", f"/v1/orders/{o['id']}")
    assert [i["counts"]["issued"] for i in shown["items"]] == [2, 1]
    assert "cards" not in shown["items"][0]
    await assert_ledger_ok(rt)


async def test_cards_come_a_page_at_a_time_with_a_cursor(rt, app_client):
    t = await factories.buyer(rt, funds=100_000)
    api = Api(app_client, t)
    body = {"reference": "view-2", "mode": "async", "items": [{"product": "acme-usd", "amount": 1000, "quantity": 12}]}
    o = await api.ok("POST", "/v1/orders", body, status=202)
    await fulfilment.fulfil(rt, o["id"], batch_size=5)
    seen: list[dict] = []
    params: dict = {"limit": 5}
    sizes = []
    while True:
        page = await api.get(f"/v1/orders/{o['id']}/cards", params=params)
        sizes.append(len(page["data"]))
        seen += page["data"]
        if not page["has_more"]:
            break
        params["cursor"] = page["next_cursor"]
    assert sizes == [5, 5, 2]
    assert len({c["id"] for c in seen}) == 12
    assert all(c["code"] and c["status"] == "issued" for c in seen)
    # Forged, mangled and other lists' cursors are refused naming the cursor, never a 500.
    listed = await api.get("/v1/orders", params={"limit": 1})
    await factories.buyer(rt, funds=0)
    for bad in (
        "nope",
        "eyJ4IjoxfQ",
        "WyJwb3NpdGlvbiIsIngiLCJvY18xIl0",
        listed["next_cursor"] or "WyItY3JlYXRlZF9hdCJd",
    ):
        await api.error(
            "GET",
            f"/v1/orders/{o['id']}/cards",
            params={"cursor": bad},
            status=422,
            code="validation_error",
            param="cursor",
        )
    for limit in (0, 101, "x"):
        await api.error(
            "GET",
            f"/v1/orders/{o['id']}/cards",
            params={"limit": limit},
            status=422,
            code="validation_error",
            param="limit",
        )
    other = Api(app_client, await factories.tenant(rt))
    await other.error("GET", f"/v1/orders/{o['id']}/cards", status=404, code="not_found", param="order")
    await assert_ledger_ok(rt)
