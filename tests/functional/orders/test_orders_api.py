"""Orders through the native API: sync and async fulfilment, validation, funds, test mode,
cancellation, idempotency and references. Every money assertion is exact."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from giftwell.domain.errors import TestCardRefused
from giftwell.services.cards import money as card_money
from giftwell.services.funding import balances
from giftwell.services.ledger import verify
from giftwell.services.orders import fulfilment
from giftwell.store.models import Card, Event, OrderCard
from tests import factories

START = 100_000


async def balance(rt, account_id: str, currency: str = "USD") -> tuple[int, int]:
    async with rt.uow() as uow:
        found = {b.currency: (b.balance, b.available) for b in await balances.balances(uow, account_id=account_id)}
    return found.get(currency, (0, 0))


async def ledger_ok(rt) -> None:
    async with rt.uow() as uow:
        report = await verify.verify(uow)
    assert report.ok, report.problems


async def cards_of(client, t, order_id: str, limit: int = 100) -> list[dict]:
    """Every card of an order, walking `GET /v1/orders/{id}/cards` page by page."""
    out: list[dict] = []
    params: dict = {"limit": limit}
    while True:
        r = await client.get(f"/v1/orders/{order_id}/cards", params=params, headers=t.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        out += page["data"]
        if not page["has_more"]:
            return out
        params["cursor"] = page["next_cursor"]


async def place(client, t, body, key: str | None = None):
    headers = dict(t.headers)
    if key:
        headers["Idempotency-Key"] = key
    return await client.post("/v1/orders", json=body, headers=headers)


async def test_sync_order_of_three_cards(rt, app_client):
    t = await factories.buyer(rt, funds=START)
    body = {
        "reference": "po-1",
        "items": [
            {
                "product": "acme-usd",
                "amount": 1000,
                "quantity": 2,
                "recipient": {"name": "Ada", "email": "ada@x.example"},
            },
            {"product": "acme-usd", "amount": 1050, "message": "Happy birthday"},
        ],
    }
    r = await place(app_client, t, body)
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["status"] == "completed"
    assert o["reference"] == "po-1"
    assert (o["total_face_value"], o["total_price"], o["charged"]) == (3050, 975 * 2 + 1024, 2974)
    assert [(i["price"], i["status"], i["counts"]) for i in o["items"]] == [
        (975, "completed", {"pending": 0, "issued": 2, "failed": 0, "cancelled": 0}),
        (1024, "completed", {"pending": 0, "issued": 1, "failed": 0, "cancelled": 0}),
    ]
    assert "cards" not in o["items"][0]
    cards = await cards_of(app_client, t, o["id"])
    assert [c["item"] for c in cards] == [o["items"][0]["id"]] * 2 + [o["items"][1]["id"]]
    assert [(c["initial_balance"], c["current_balance"], c["currency"]) for c in cards] == [
        (1000, 1000, "USD"),
        (1000, 1000, "USD"),
        (1050, 1050, "USD"),
    ]
    assert all(c["status"] == "issued" and c["card_status"] == "active" for c in cards)
    assert all(len(c["code"].replace("-", "")) == 16 for c in cards)
    assert len({c["code"] for c in cards}) == 3
    assert all(
        c["link"].startswith("http://127.0.0.1:8000/r/") and len(c["link"].rsplit("/", 1)[1]) >= 43 for c in cards
    )
    assert all(c["expires_at"] is not None for c in cards)
    assert o["completed_at"] is not None
    assert await balance(rt, t.account_id) == (START - 2974, START - 2974)
    await ledger_ok(rt)

    # the same codes again, a page at a time, and each showing is counted; the order itself
    # shows counts and no code, and records nothing
    again = (await app_client.get(f"/v1/orders/{o['id']}", headers=t.headers)).json()
    assert again["items"] == o["items"]
    two = await cards_of(app_client, t, o["id"], limit=2)
    assert [c["code"] for c in two] == [c["code"] for c in cards]
    async with rt.uow() as uow:
        counts = (
            await uow.conn.execute(sa.select(OrderCard.reveal_count).where(OrderCard.order_id == o["id"]))
        ).scalars()
        assert set(counts) == {2}
        shown = await uow.conn.execute(sa.select(sa.func.count()).where(Event.type == "order.codes_revealed"))
        assert shown.scalar_one() == 3  # one per page: 1 + 2
    # By reference: the order as GET /v1/orders/{id} shows it, items and counts.
    by_ref = (await app_client.get("/v1/orders?reference=po-1", headers=t.headers)).json()
    assert [x["id"] for x in by_ref["data"]] == [o["id"]]
    assert by_ref["has_more"] is False
    assert by_ref["data"][0]["items"] == again["items"]
    # The plain list shows no items (and so no codes).
    listed = (await app_client.get("/v1/orders", headers=t.headers)).json()
    assert [x["items"] for x in listed["data"]] == [None]
    none = (await app_client.get("/v1/orders?reference=po-unknown", headers=t.headers)).json()
    assert none == {"data": [], "has_more": False, "next_cursor": None}
    statement = (await app_client.get("/v1/account/statement", headers=t.headers)).json()["data"]
    assert [(x["kind"], x["status"], x["amount"]) for x in statement] == [
        ("charge", "posted", 2974),
        ("fund", "posted", START),
    ]


async def test_async_order_is_fulfilled_by_the_job_queue(rt, app_client):
    # The order commits together with its fulfilment job (the job queue): a worker completes it.
    from giftwell.jobs.worker import Worker
    from giftwell.services.queue import jobs

    t = await factories.buyer(rt, funds=START)
    r = await place(
        app_client, t, {"reference": "queued", "items": [{"product": "acme-usd", "amount": 2000, "quantity": 12}]}
    )
    assert r.status_code == 202, r.text
    o = r.json()
    async with rt.reader() as uow:
        queued = await jobs.list_jobs(uow, kind="order.fulfil", limit=10)
    assert [j.payload for j in queued] == [{"order_id": o["id"]}]
    await Worker(rt, periodic=()).run_once()
    done = (await app_client.get(f"/v1/orders/{o['id']}", headers=t.headers)).json()
    assert done["status"] == "completed"
    assert sum(1 for c in await cards_of(app_client, t, o["id"]) if c["code"]) == 12
    assert await balance(rt, t.account_id) == (START - 12 * 1950, START - 12 * 1950)
    await ledger_ok(rt)


async def test_auto_mode_issues_up_to_ten_cards_in_the_request(rt, app_client):
    t = await factories.buyer(rt, funds=START)
    ten = await place(
        app_client, t, {"reference": "ten", "items": [{"product": "acme-usd", "amount": 1000, "quantity": 10}]}
    )
    assert (ten.status_code, ten.json()["status"]) == (200, "completed")
    eleven = await place(
        app_client, t, {"reference": "eleven", "items": [{"product": "acme-usd", "amount": 1000, "quantity": 11}]}
    )
    assert (eleven.status_code, eleven.json()["status"]) == (202, "pending")
    # an order's cards over several items count together
    split = await place(
        app_client,
        t,
        {
            "reference": "split",
            "items": [{"product": "acme-usd", "amount": 1000, "quantity": 5}] * 2
            + [{"product": "acme-usd", "amount": 1000}],
        },
    )
    assert (split.status_code, split.json()["status"]) == (202, "pending")


async def test_order_descriptions_in_openapi(app_client):
    spec = (await app_client.get("/openapi.json")).json()
    props = spec["components"]["schemas"]["OrderOut"]["properties"]
    for status in ("pending", "processing", "completed", "partial", "failed", "cancelled"):
        assert status in props["status"]["description"]
    assert "recorded" in spec["components"]["schemas"]["OrderCardOut"]["properties"]["code"]["description"]
    assert "a page at a time" in spec["paths"]["/v1/orders/{order_id}/cards"]["get"]["description"]
    place_op = spec["paths"]["/v1/orders"]["post"]
    assert "10,000 cards" in place_op["description"]
    assert "insufficient_funds" in place_op["description"]
    assert "reference" in spec["paths"]["/v1/orders"]["get"]["description"]
    assert "listed cards" in spec["paths"]["/v1/orders/{order_id}/cancel"]["post"]["description"]


async def test_async_order_of_25_cards(rt, app_client):
    t = await factories.buyer(rt, funds=START)
    r = await place(
        app_client, t, {"reference": "big", "items": [{"product": "acme-usd", "amount": 2000, "quantity": 25}]}
    )
    assert r.status_code == 202, r.text
    o = r.json()
    assert o["status"] == "pending"
    assert o["total_price"] == 25 * 1950
    assert o["items"][0]["counts"] == {"pending": 25, "issued": 0, "failed": 0, "cancelled": 0}
    assert all(c["status"] == "pending" and c["code"] is None for c in await cards_of(app_client, t, o["id"]))
    # reserved, not yet charged
    assert await balance(rt, t.account_id) == (START, START - 25 * 1950)
    await ledger_ok(rt)

    # one batch: the order and its item are processing, ten cards issued and charged
    async with rt.uow() as uow:
        assert await fulfilment.run_batch(uow, o["id"], limit=10) == 10
        await uow.commit()
    mid = (await app_client.get(f"/v1/orders/{o['id']}", headers=t.headers)).json()
    assert (mid["status"], mid["items"][0]["status"], mid["charged"]) == ("processing", "processing", 10 * 1950)
    assert [c["status"] for c in await cards_of(app_client, t, o["id"])] == ["issued"] * 10 + ["pending"] * 15

    assert await fulfilment.fulfil(rt, o["id"], batch_size=10) == "completed"
    done = (await app_client.get(f"/v1/orders/{o['id']}", headers=t.headers)).json()
    assert done["status"] == "completed"
    assert done["charged"] == 25 * 1950
    assert sum(1 for c in await cards_of(app_client, t, o["id"], limit=7) if c["code"]) == 25
    assert await balance(rt, t.account_id) == (START - 25 * 1950, START - 25 * 1950)
    statement = (await app_client.get("/v1/account/statement", headers=t.headers)).json()["data"]
    # three batches: 10 and 10 captured from the hold, the last 5 post what remains of it
    assert sorted((x["kind"], x["status"], x["amount"]) for x in statement) == [
        ("charge", "posted", 5 * 1950),
        ("charge", "posted", 10 * 1950),
        ("charge", "posted", 10 * 1950),
        ("fund", "posted", START),
    ]
    await ledger_ok(rt)


async def test_insufficient_funds_changes_nothing(rt, app_client):
    t = await factories.buyer(rt, funds=2000)
    r = await place(
        app_client, t, {"reference": "too-much", "items": [{"product": "acme-usd", "amount": 1000, "quantity": 3}]}
    )
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert (err["code"], err["available"], err["required"]) == ("insufficient_funds", 2000, 2925)
    assert (await app_client.get("/v1/orders", headers=t.headers)).json()["data"] == []
    assert await balance(rt, t.account_id) == (2000, 2000)
    async with rt.uow() as uow:
        assert (await uow.conn.execute(sa.select(sa.func.count()).select_from(Card))).scalar_one() == 0
    await ledger_ok(rt)


async def test_validation_names_item_and_field(rt, app_client):
    t = await factories.buyer(rt, funds=START)
    async with rt.uow() as uow:
        from giftwell.services.catalog import products

        await products.save(
            uow,
            {
                **factories.PRODUCT,
                "id": "topup-np",
                "currency": "USD",
                "countries": ["NP"],
                "denominations": {"values": [1000, 2500]},
                "required_fields": [
                    {"id": "7FeXMgqYEgndkQVuG8n1", "name": "mobile", "type": "input", "required": True}
                ],
            },
        )
        await uow.commit()
    ok = {"product": "acme-usd", "amount": 1000}
    cases = [
        ([ok, {"product": "acme-usd", "amount": 1050 + 5}], "items[1].amount"),
        ([{"product": "acme-usd", "amount": 100}], "items[0].amount"),
        ([{"product": "topup-np", "amount": 2000}], "items[0].amount"),
        ([{"product": "topup-np", "amount": 1000}], "items[0].fields.7FeXMgqYEgndkQVuG8n1"),
        (
            [{"product": "topup-np", "amount": 1000, "fields": {"7FeXMgqYEgndkQVuG8n1": "1", "x": "2"}}],
            "items[0].fields.x",
        ),
        ([{"product": "acme-usd", "amount": 1000, "country": "NP"}], "items[0].product"),
        ([{"product": "nope", "amount": 1000}], "items[0].product"),
        ([{**ok, "quantity": 0}], "items[0].quantity"),
        ([{**ok, "quantity": 10_001}], "items"),
        ([{**ok, "message": "x" * 501}], "items[0].message"),
        ([{**ok, "delivery": {"channel": "email"}}], "items[0].recipient.email"),
        ([{**ok, "delivery": {"channel": "sms"}, "recipient": {"email": "a@b.example"}}], "items[0].recipient.phone"),
        ([{**ok, "recipient": {"email": "not-an-email"}}], "items[0].recipient.email"),
        ([{**ok, "amount": "1000"}], "items[0].amount"),
    ]
    for items, param in cases:
        r = await place(app_client, t, {"reference": "v", "items": items})
        assert r.status_code == 422, (items, r.text)
        assert r.json()["error"]["param"] == param, (items, r.json())
    r = await place(app_client, t, {"reference": "v", "items": [{**ok, "quantity": 11}], "mode": "sync"})
    assert r.json()["error"]["param"] == "mode"
    assert await balance(rt, t.account_id) == (START, START)


async def test_test_orders_charge_nothing_and_cards_refuse_redemption(rt, app_client):
    t = await factories.buyer(rt, funds=START)
    r = await place(
        app_client,
        t,
        {"reference": "t1", "test": True, "items": [{"product": "acme-usd", "amount": 5000, "quantity": 2}]},
    )
    assert r.status_code == 200, r.text
    o = r.json()
    assert (o["status"], o["test"], o["charged"]) == ("completed", True, 0)
    assert await balance(rt, t.account_id) == (START, START)
    # even an unfunded account may place test orders
    poor = await factories.tenant(rt)
    r = await place(
        app_client, poor, {"reference": "t2", "test": True, "items": [{"product": "acme-usd", "amount": 5000}]}
    )
    assert r.status_code == 200, r.text
    card_id = (await cards_of(app_client, t, o["id"]))[0]["card_id"]
    async with rt.uow() as uow:
        row = (await uow.conn.execute(sa.select(Card.account_id, Card.test).where(Card.id == card_id))).one()
        assert row.test is True
        with pytest.raises(TestCardRefused) as exc:
            await card_money.redeem(uow, account_id=row.account_id, card_id=card_id, amount=100)
    assert exc.value.code == "test_card"
    await ledger_ok(rt)


async def test_a_test_card_and_a_live_card_never_exchange_value(rt, app_client):
    t = await factories.buyer(rt, funds=START)
    o = (
        await place(
            app_client, t, {"reference": "t3", "test": True, "items": [{"product": "acme-usd", "amount": 5000}]}
        )
    ).json()
    test_card = (await cards_of(app_client, t, o["id"]))[0]["card_id"]
    async with rt.uow() as uow:
        issuer = (await uow.conn.execute(sa.select(Card.account_id).where(Card.id == test_card))).scalar_one()
    live = await factories.card(rt, issuer, currency="USD", amount=5000)
    for src, dst, param in [(test_card, live.card.id, "card"), (live.card.id, test_card, "to_card")]:
        async with rt.uow() as uow:
            with pytest.raises(TestCardRefused) as exc:
                await card_money.transfer(uow, account_id=issuer, card_id=src, to_card=dst, amount=100)
        assert (exc.value.code, exc.value.param) == ("test_card", param)
    async with rt.uow() as uow:
        balances = dict(
            (
                await uow.conn.execute(
                    sa.text("SELECT c.id, a.balance FROM cards c JOIN ledger_accounts a ON a.id = c.ledger_account_id")
                )
            ).all()
        )
    assert balances == {test_card: 5000, live.card.id: 5000}
    await ledger_ok(rt)


async def test_cancel_returns_exactly_the_unused_cards_prices(rt, app_client):
    t = await factories.buyer(rt, funds=START)
    o = (
        await place(
            app_client, t, {"reference": "c1", "items": [{"product": "acme-usd", "amount": 1000, "quantity": 3}]}
        )
    ).json()
    assert await balance(rt, t.account_id) == (START - 2925, START - 2925)
    made = await cards_of(app_client, t, o["id"])
    used = made[0]
    async with rt.uow() as uow:
        issuer = (await uow.conn.execute(sa.select(Card.account_id).where(Card.id == used["card_id"]))).scalar_one()
        await card_money.redeem(uow, account_id=issuer, card_id=used["card_id"], amount=100)
        await uow.commit()
    r = await app_client.post(f"/v1/orders/{o['id']}/cancel", json={"cards": [used["id"]]}, headers=t.headers)
    assert r.status_code == 409, r.text
    assert await balance(rt, t.account_id) == (START - 2925, START - 2925)
    # a listed card: only its price comes back
    listed = made[1]
    r = await app_client.post(f"/v1/orders/{o['id']}/cancel", json={"cards": [listed["id"]]}, headers=t.headers)
    assert r.status_code == 200, r.text
    assert r.json()["cancelled"] == 1
    assert r.json()["order"]["items"][0]["counts"] == {"pending": 0, "issued": 2, "failed": 0, "cancelled": 1}
    assert [c["status"] for c in await cards_of(app_client, t, o["id"])] == ["issued", "cancelled", "issued"]
    assert await balance(rt, t.account_id) == (START - 2925 + 975, START - 2925 + 975)
    # the whole order: the remaining unused card
    r = await app_client.post(f"/v1/orders/{o['id']}/cancel", headers=t.headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["cancelled"] == 1
    after = await cards_of(app_client, t, o["id"])
    assert [c["status"] for c in after] == ["issued", "cancelled", "cancelled"]
    assert [c["card_status"] for c in after] == ["active", "disabled", "disabled"]
    assert [c["current_balance"] for c in after] == [900, 0, 0]
    assert out["order"]["refunded"] == 2 * 975
    assert await balance(rt, t.account_id) == (START - 975, START - 975)
    # cancelling again changes nothing
    again = await app_client.post(f"/v1/orders/{o['id']}/cancel", headers=t.headers)
    assert again.json()["cancelled"] == 0
    assert await balance(rt, t.account_id) == (START - 975, START - 975)
    await ledger_ok(rt)


async def test_cancel_a_pending_order_releases_the_hold(rt, app_client):
    t = await factories.buyer(rt, funds=START)
    o = (
        await place(
            app_client, t, {"reference": "c2", "mode": "async", "items": [{"product": "acme-usd", "amount": 1000}]}
        )
    ).json()
    assert await balance(rt, t.account_id) == (START, START - 975)
    r = await app_client.post(f"/v1/orders/{o['id']}/cancel", headers=t.headers)
    assert r.json()["order"]["status"] == "cancelled"
    assert await balance(rt, t.account_id) == (START, START)
    assert await fulfilment.fulfil(rt, o["id"]) == "cancelled"
    await ledger_ok(rt)


async def test_idempotency_key_and_reference(rt, app_client):
    t = await factories.buyer(rt, funds=START)
    body = {"reference": "same", "items": [{"product": "acme-usd", "amount": 1000}]}
    first = await place(app_client, t, body, key="k-1")
    again = await place(app_client, t, body, key="k-1")
    assert first.status_code == again.status_code == 200
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    other = await place(app_client, t, body, key="k-2")
    assert other.status_code == 409
    assert (other.json()["error"]["code"], other.json()["error"]["param"]) == ("conflict", "reference")
    assert await balance(rt, t.account_id) == (START - 975, START - 975)
    assert len((await app_client.get("/v1/orders", headers=t.headers)).json()["data"]) == 1


async def test_scopes_and_other_accounts(rt, app_client):
    t = await factories.buyer(rt, funds=START)
    o = (await place(app_client, t, {"reference": "mine", "items": [{"product": "acme-usd", "amount": 1000}]})).json()
    other = await factories.tenant(rt)
    assert (await app_client.get(f"/v1/orders/{o['id']}", headers=other.headers)).status_code == 404
    reader = await factories.tenant(rt, scopes=["orders:read", "products:read"])
    r = await place(app_client, reader, {"reference": "x", "items": [{"product": "acme-usd", "amount": 1000}]})
    assert r.status_code == 403
    listed = await app_client.get("/v1/orders?status=completed", headers=t.headers)
    assert [x["id"] for x in listed.json()["data"]] == [o["id"]]
    assert listed.json()["data"][0]["items"] is None
