"""`/api/b2b/order` beyond the seed's examples: `referenceId` as the idempotency key (replays,
a different body, racing requests), the native API's isolation repeated through the dialect,
refused inputs (400 or 422, nothing written), orders still being made, test orders, and the
recording of every showing of the codes. Both databases."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import sqlalchemy as sa

from giftwell.services.orders import fulfilment
from giftwell.store.models import Event, Order, OrderCard
from tests import dbdump, factories
from tests.functional.dialects.wizzgift.support import B2B
from tests.functional.support import assert_ledger_ok

BODY = {"amount": 10, "referenceId": "po-1", "quantity": 2, "productId": "acme-usd", "requiredInfoFromUser": []}


@pytest.fixture
async def buyer(rt):
    t = await factories.buyer(rt, funds=1_000_000)
    return t


async def order_rows(rt) -> list:
    async with rt.reader() as uow:
        return list((await uow.conn.execute(sa.select(Order.id, Order.account_id, Order.reference))).all())


async def test_the_same_body_again_answers_the_same_order(rt, app_client, buyer):
    await factories.product(rt, id="other-usd")
    first = await app_client.post(f"{B2B}/order", json=BODY, headers=buyer.headers)
    assert first.status_code == 200, first.text
    again = await app_client.post(
        f"{B2B}/order", json={**BODY, "amount": 10.00, "isTest": False}, headers=buyer.headers
    )
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert len(await order_rows(rt)) == 1
    order_id = first.json()["data"]["id"]

    for change in ({"amount": 11}, {"quantity": 3}, {"productId": "other-usd"}, {"isTest": True}):
        r = await app_client.post(f"{B2B}/order", json={**BODY, **change}, headers=buyer.headers)
        assert r.status_code == 422, (change, r.text)
        assert r.json()["success"] is False
        assert r.json()["message"].startswith("referenceId: "), r.text
    assert [o.id for o in await order_rows(rt)] == [order_id]
    # Funds moved once: two cards of 10 USD at 2.5 % off.
    async with rt.reader() as uow:
        charged = (await uow.conn.execute(sa.select(Order.charged).where(Order.id == order_id))).scalar_one()
    assert charged == 2 * 975


async def test_racing_requests_with_one_reference_make_one_order(rt, app_client, buyer):
    answers = await asyncio.gather(
        *[
            app_client.post(f"{B2B}/order", json={**BODY, "referenceId": "race"}, headers=buyer.headers)
            for _ in range(6)
        ]
    )
    assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
    assert len({r.json()["data"]["id"] for r in answers}) == 1
    assert len(await order_rows(rt)) == 1
    await assert_ledger_ok(rt)


async def test_references_and_orders_are_per_account(rt, app_client, buyer):
    other = await factories.tenant(rt)
    await factories.fund(rt, other.account_id, 100_000)
    mine = await app_client.post(f"{B2B}/order", json=BODY, headers=buyer.headers)
    theirs = await app_client.post(f"{B2B}/order", json=BODY, headers=other.headers)
    assert mine.status_code == theirs.status_code == 200
    assert mine.json()["data"]["id"] != theirs.json()["data"]["id"]

    order_id = mine.json()["data"]["id"]
    before = await dbdump.rows(rt, skip=("rate_limit_counters",))
    for query in ({"id": order_id}, {"referenceId": "po-1", "id": order_id}, {"id": "ord_nope"}):
        r = await app_client.get(f"{B2B}/order", params=query, headers=other.headers)
        assert r.status_code == 404, (query, r.text)
        assert r.json() == {"success": False, "message": "No such order"}
    # B's own order by the shared reference is B's, never A's.
    r = await app_client.get(f"{B2B}/order", params={"referenceId": "po-1"}, headers=other.headers)
    assert r.json()["data"]["id"] == theirs.json()["data"]["id"]
    after = await dbdump.rows(rt, skip=("rate_limit_counters",))
    changed = {t for t in before if before[t] != after[t]}
    assert changed <= {"order_cards", "events"}  # B's own showing of B's own order, recorded
    # A's cards were never shown to B.
    async with rt.reader() as uow:
        shown = await uow.conn.execute(sa.select(OrderCard.reveal_count).where(OrderCard.order_id == order_id))
        assert set(shown.scalars()) == {0}


async def test_every_showing_of_codes_is_recorded(rt, app_client, buyer):
    order_id = (await app_client.post(f"{B2B}/order", json=BODY, headers=buyer.headers)).json()["data"]["id"]
    for _ in range(2):
        r = await app_client.get(f"{B2B}/order", params={"id": order_id}, headers=buyer.headers)
        assert r.status_code == 200
    async with rt.reader() as uow:
        counts = (await uow.conn.execute(sa.select(OrderCard.reveal_count).where(OrderCard.order_id == order_id))).all()
        events = (
            await uow.conn.execute(sa.select(sa.func.count()).where(Event.type == "order.codes_revealed"))
        ).scalar_one()
    assert [c.reveal_count for c in counts] == [2, 2]
    assert events == 2  # the create answer shows no code, so it records none


REFUSED = [
    ({"amount": 10.001}, 422, "amount: amount has more decimal places than USD allows"),
    ({"amount": "10"}, 422, "amount must be a number"),
    ({"amount": True}, 422, "amount must be a number"),
    ({"amount": 1e300}, 422, "amount: amount is too large"),
    ({"amount": 0.5}, 422, "amount: amount must be between 5.00 USD and 500.00 USD"),
    ({"amount": 0}, 422, "amount must be greater than 0"),
    ({"amount": -5}, 422, "amount must be greater than 0"),
    ({"amount": 10.05}, 422, "amount: amount must be 5.00 USD plus a multiple of 0.10 USD"),
    ({"amount": 12345678901234567890}, 422, "amount: amount is too large"),
    ({"quantity": 1.5}, 422, "quantity must be a whole number"),
    ({"quantity": 0}, 422, "quantity must be at least 1"),
    ({"quantity": 10**30}, 422, "quantity is too large"),
    ({"quantity": 10001}, 422, "quantity: an order makes at most 10000 cards"),
    ({"referenceId": ""}, 422, "referenceId must be a non-empty string"),
    ({"referenceId": 7}, 422, "referenceId must be a non-empty string"),
    ({"referenceId": "x" * 201}, 422, "referenceId must be at most 200 characters"),
    ({"referenceId": None}, 400, "Missing required parameter(s): referenceId."),
    ({"productId": "nope"}, 422, "productId: no such product"),
    ({"requiredInfoFromUser": {}}, 422, "requiredInfoFromUser must be an array"),
    ({"requiredInfoFromUser": [{"id": "x"}]}, 422, "requiredInfoFromUser[0] must be an object"),
    ({"requiredInfoFromUser": [{"id": "x", "value": 5}]}, 422, "requiredInfoFromUser[0].value must be a string"),
    ({"requiredInfoFromUser": [{"id": "x", "value": "5"}]}, 422, "requiredInfoFromUser x: unknown field"),
    ({"isTest": "yes"}, 422, "isTest must be true or false"),
    ({"callbackUrl": "https://x.example"}, 422, "Unknown parameter(s): callbackUrl"),
]


async def test_refused_inputs_write_nothing(rt, app_client, buyer):
    before = await dbdump.rows(rt, skip=("rate_limit_counters",))
    for change, status, starts in REFUSED:
        body = {**BODY, **change}
        if body.get("referenceId") is None:
            body.pop("referenceId")
        r = await app_client.post(f"{B2B}/order", json=body, headers=buyer.headers)
        assert r.status_code == status, (change, r.text)
        assert set(r.json()) == {"success", "message"}
        assert r.json()["message"].startswith(starts), (change, r.text)
    raw = b'{"amount": 1e400, "referenceId": "x", "quantity": 1, "productId": "acme-usd", "requiredInfoFromUser": []}'
    r = await app_client.post(
        f"{B2B}/order", content=raw, headers={**buyer.headers, "content-type": "application/json"}
    )
    assert (r.status_code, r.json()["message"]) == (422, "amount: amount is too large")
    assert await dbdump.rows(rt, skip=("rate_limit_counters",)) == before


async def test_malformed_requests_are_400(rt, app_client, buyer):
    for content in (b"", b"[]", b'"x"', b"{", b'{"amount": NaN}'):
        r = await app_client.post(
            f"{B2B}/order", content=content, headers={**buyer.headers, "content-type": "application/json"}
        )
        assert r.status_code == 400, (content, r.text)
    missing = await app_client.post(f"{B2B}/order", json={"amount": 1}, headers=buyer.headers)
    assert missing.status_code == 400
    assert missing.json()["message"] == (
        "Missing required parameter(s): referenceId, quantity, productId, requiredInfoFromUser."
    )
    for query in ("", "?id=", "?id=a&id=b"):
        r = await app_client.get(f"{B2B}/order{query}", headers=buyer.headers)
        assert r.status_code == 400, (query, r.text)
    r = await app_client.put(f"{B2B}/order", headers=buyer.headers)
    assert r.status_code == 405
    assert r.json()["success"] is False
    # A body past 256 KB: refused as announced, and as it arrives when not announced.
    huge = b'{"referenceId": "' + b"x" * 300_000 + b'"}'

    async def chunks():
        for start in range(0, len(huge), 65_536):
            yield huge[start : start + 65_536]

    for content in (huge, chunks()):
        r = await app_client.post(
            f"{B2B}/order", content=content, headers={**buyer.headers, "content-type": "application/json"}
        )
        assert r.status_code == 400, r.text
        assert r.json() == {"success": False, "message": "The request body is larger than 262144 bytes."}


async def test_required_info_and_insufficient_funds(rt, app_client):
    t = await factories.buyer(rt, funds=1500)
    await factories.product(
        rt, id="topup-usd", required_fields=[{"id": "7FeXMgqYEgndkQVuG8n1", "name": "mobile", "type": "input"}]
    )
    body = {**BODY, "productId": "topup-usd", "quantity": 1}
    r = await app_client.post(f"{B2B}/order", json=body, headers=t.headers)
    assert r.status_code == 422
    assert r.json()["message"].startswith("requiredInfoFromUser 7FeXMgqYEgndkQVuG8n1: field 'mobile'"), r.text
    info = [{"id": "7FeXMgqYEgndkQVuG8n1", "value": "+9779800000000", "name": "mobile", "type": "input"}]
    ok = await app_client.post(f"{B2B}/order", json={**body, "requiredInfoFromUser": info}, headers=t.headers)
    assert ok.status_code == 200, ok.text
    poor = await app_client.post(
        f"{B2B}/order", json={**body, "referenceId": "po-2", "requiredInfoFromUser": info}, headers=t.headers
    )
    assert poor.status_code == 422
    assert "insufficient funds" in poor.json()["message"]


async def test_an_order_being_made_says_so_then_completes(rt, app_client, buyer):
    r = await app_client.post(f"{B2B}/order", json={**BODY, "quantity": 12, "amount": 5.5}, headers=buyer.headers)
    assert r.status_code == 200, r.text
    order_id = r.json()["data"]["id"]
    pending = (await app_client.get(f"{B2B}/order", params={"id": order_id}, headers=buyer.headers)).json()["data"]
    assert (pending["status"], pending["redeemInfos"], pending["orderedQuantity"]) == ("pending", [], 12)
    assert pending["amount"] == 5.5
    assert await fulfilment.fulfil(rt, order_id) == "completed"
    done = (await app_client.get(f"{B2B}/order", params={"referenceId": "po-1"}, headers=buyer.headers)).json()["data"]
    assert done["status"] == "completed"
    assert [i["status"] for i in done["redeemInfos"]] == ["completed"] * 12
    assert len({i["code"] for i in done["redeemInfos"]}) == 12


async def test_test_orders_charge_nothing(rt, app_client, buyer):
    r = await app_client.post(f"{B2B}/order", json={**BODY, "isTest": True}, headers=buyer.headers)
    assert r.status_code == 200, r.text
    async with rt.reader() as uow:
        row = (await uow.conn.execute(sa.select(Order.test, Order.charged, Order.status))).one()
    assert (row.test, row.charged, row.status) == (True, 0, "completed")
    got = await app_client.get(f"{B2B}/order", params={"referenceId": "po-1"}, headers=buyer.headers)
    assert got.json(parse_float=Decimal)["data"]["amount"] == 10
