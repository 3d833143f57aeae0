"""Giftwell A sells cards it buys from Giftwell B (two real servers on loopback, each with its
own database and worker): codes that redeem on B, both ledgers whole, bought once whatever
fails; partial and refused upstream orders release the buyer's funds; 5xx retried; the webhook
first, the poll a no-op after it; polling alone without a webhook. Both databases (A's)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.jobs import JobState
from giftwell.services.catalog import suppliers
from giftwell.services.funding import balances
from giftwell.services.ledger import verify
from giftwell.services.orders import upstream as purchases
from giftwell.store.models import Job, Order, OrderItem, SuppliedCard, SupplierOrder
from tests import dbdump, factories, upstream
from tests.upstream import Fault

PRICE_AT_A = 990  # 10 USD less 1 %
PRICE_AT_B = 975  # 10 USD less 2.5 %


class RefuseSecond:
    """B's house cards, except the second of every order."""

    async def issue(self, uow, req):
        if req.index == 1:
            raise suppliers.SupplyFailed("out of stock at B")
        return await suppliers.HouseSupplier().issue(uow, req)


async def ledger_ok(rt) -> None:
    async with rt.uow() as uow:
        report = await verify.verify(uow)
    assert report.ok, report.problems


async def funds(rt, account_id: str) -> tuple[int, int]:
    async with rt.reader() as uow:
        (b,) = await balances.balances(uow, account_id=account_id)
    return b.balance, b.available


async def orders_at_b(pair, reference: str) -> list:
    async with pair.rb.reader() as uow:
        return list((await uow.conn.execute(sa.select(Order).where(Order.reference == reference))).all())


async def reference_of(pair, order_id: str) -> str:
    async with pair.ra.reader() as uow:
        item = (await uow.conn.execute(sa.select(OrderItem.id).where(OrderItem.order_id == order_id))).scalar_one()
    return f"gw-{item}"


async def test_a_buyer_gets_cards_bought_from_b_that_redeem_on_b(make_pair, monkeypatch):
    monkeypatch.setitem(suppliers.REGISTRY, "refuse-second", RefuseSecond())
    async with make_pair() as pair:
        await factories.product(pair.rb, id="flaky-usd", supplier="refuse-second")
        await factories.product(pair.ra, id="flaky-via-b", supplier="b", supplier_product="flaky-usd")
        await factories.product(pair.ra, id="gone-via-b", supplier="b", supplier_product="not-at-b")
        before = await funds(pair.ra, pair.buyer.account_id)

        order_id = await pair.order("po-25", 25)
        assert await pair.ended(order_id) == "completed"
        shown = await pair.shown(order_id)
        assert (shown["status"], shown["orderedQuantity"], len(shown["redeemInfos"])) == ("completed", 25, 25)
        codes = [i["code"] for i in shown["redeemInfos"]]
        assert len(set(codes)) == 25
        assert all(
            i["status"] == "completed" and i["link"].startswith(pair.b_url + "/r/") for i in shown["redeemInfos"]
        )
        assert all(i["transactionId"].startswith("card_") for i in shown["redeemInfos"])
        # Bought once, at B's price; sold once, at A's.
        (at_b,) = await orders_at_b(pair, await reference_of(pair, order_id))
        assert (at_b.card_count, at_b.charged, at_b.status) == (25, 25 * PRICE_AT_B, "completed")
        assert await funds(pair.ra, pair.buyer.account_id) == (before[0] - 25 * PRICE_AT_A,) * 2
        # The codes redeem on B (B's operator issued them), and only there.
        op = pair.b["operator"]
        for code in codes[:3]:
            r = await pair.http.post(
                f"{pair.b_url}/api/giftcards/redeem", json={"giftcard_code": code, "amount": 2.5}, headers=op.headers
            )
            assert r.status_code == 200, r.text
            assert r.json()["giftcard"]["balance"] == 7.5
        # Stored encrypted at A: no code in the clear anywhere in A's database.
        dump = await dbdump.text(pair.ra)
        assert not [c for c in codes if c in dump]
        async with pair.ra.reader() as uow:
            stored = (await uow.conn.execute(sa.select(sa.func.count()).select_from(SuppliedCard))).scalar_one()
        assert stored == 25

        # B makes two of three: A's order is partial, the failed card says why, its price is released.
        partial_id = await pair.order("po-partial", 3, product="flaky-via-b")
        assert await pair.ended(partial_id) == "partial"
        infos = (await pair.shown(partial_id))["redeemInfos"]
        assert [i["status"] for i in infos] == ["completed", "failed", "completed"]
        native = await native_cards(pair, partial_id)
        assert [c["error"] for c in native] == [None, "the supplier did not make this card", None]
        assert [c["code"] is not None for c in native] == [True, False, True]

        # B refuses (no such product there): every card fails with B's own message; nothing charged.
        refused_id = await pair.order("po-refused", 2, product="gone-via-b")
        assert await pair.ended(refused_id) == "failed"
        errors = {c["error"] for c in await native_cards(pair, refused_id)}
        assert len(errors) == 1
        assert "refused the order" in errors.pop()
        # 25 of A's cards at A's price, 2 of the flaky product at its own (2.5 % off); nothing held.
        assert await funds(pair.ra, pair.buyer.account_id) == (before[0] - 25 * PRICE_AT_A - 2 * 975,) * 2
        await ledger_ok(pair.ra)
        await ledger_ok(pair.rb)


async def native_cards(pair, order_id: str) -> list[dict]:
    r = await pair.http.get(f"{pair.a_url}/v1/orders/{order_id}/cards", headers=pair.buyer.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


async def test_b_answers_500_twice_then_200_and_polling_alone_completes(make_pair):
    plan = {("POST", "/api/b2b/order"): [Fault(500), Fault(503)]}
    async with make_pair(plan=plan, webhook=False) as pair:
        order_id = await pair.order("po-retry", 12)
        assert await pair.ended(order_id) == "completed"
        assert pair.proxy.count("POST", "/api/b2b/order") == 3
        assert pair.proxy.count("GET", "/api/b2b/order") >= 1  # completed by polling: no webhook
        assert len(await orders_at_b(pair, await reference_of(pair, order_id))) == 1
        # The job is marked done just after the transaction that completed the order.
        for _ in range(100):
            async with pair.ra.reader() as uow:
                job = (await uow.conn.execute(sa.select(Job).where(Job.kind == "supplier.order"))).one()
            if job.state == JobState.DONE.value:
                break
            await asyncio.sleep(0.1)
        assert job.state == JobState.DONE.value
        assert job.attempts >= 3  # two failures, then the order placed (and polled until done)
        assert len((await pair.shown(order_id))["redeemInfos"]) == 12
        await ledger_ok(pair.ra)


async def test_a_timeout_after_b_took_the_order_is_retried_and_buys_nothing_twice(make_pair):
    # B takes the order, then its answer comes after A's timeout (1 s): A retries, asks B for the
    # reference first, finds the order, and never sends it again.
    plan = {("POST", "/api/b2b/order"): [Fault(forward=True, delay=2.5)]}
    async with make_pair(plan=plan, webhook=False, supplier_timeout_seconds=1.0) as pair:
        order_id = await pair.order("po-timeout", 3)
        assert await pair.ended(order_id) == "completed"
        assert pair.proxy.count("POST", "/api/b2b/order") == 1
        (at_b,) = await orders_at_b(pair, await reference_of(pair, order_id))
        assert (at_b.card_count, at_b.charged) == (3, 3 * PRICE_AT_B)
        async with pair.ra.reader() as uow:
            job = (await uow.conn.execute(sa.select(Job).where(Job.kind == "supplier.order"))).one()
        assert job.attempts >= 2
        assert len({i["code"] for i in (await pair.shown(order_id))["redeemInfos"]}) == 3
        await ledger_ok(pair.ra)


async def test_the_webhook_arrives_before_the_poll_which_then_does_nothing(make_pair):
    # Every poll fails (503) until B's webhook has come: only the webhook can complete the order.
    async with make_pair(plan={("GET", "/api/b2b/order"): [Fault(503)] * 1000}) as pair:
        order_id = await pair.order("po-hook", 11)
        assert await pair.ended(order_id, within=20) == "completed"
        assert len((await pair.shown(order_id))["redeemInfos"]) == 11
        async with pair.ra.reader() as uow:
            purchase = (await uow.conn.execute(sa.select(SupplierOrder))).one()
        assert purchase.status == "completed"
        # The poll, answered at last: B says completed, and A has nothing left to do.
        pair.proxy.plan.clear()
        polls = pair.proxy.count("GET", "/api/b2b/order")
        before = await dbdump.rows(pair.ra, skip=("rate_limit_counters", "jobs", "job_attempts"))
        assert await purchases.apply(pair.ra, purchase.id, await _b_says(pair, purchase)) is False
        assert await purchases.advance(pair.ra, purchase.id, attempt=5) == purchases.DONE
        assert await dbdump.rows(pair.ra, skip=("rate_limit_counters", "jobs", "job_attempts")) == before
        assert pair.proxy.count("GET", "/api/b2b/order") == polls + 1
        await ledger_ok(pair.ra)


async def _b_says(pair, purchase):
    from giftwell.services.catalog.upstream import tokens

    return await tokens.call(
        pair.ra, purchase.supplier_id, lambda api, token: api.get_order(token, reference_id=purchase.reference)
    )


async def test_webhooks_are_verified(make_pair):
    async with make_pair(plan={}) as pair:
        hook = f"{pair.a_url}/hooks/suppliers/b"
        body = b'{"id":"x","referenceId":"gw-nope","status":"completed","orderedQuantity":1,"redeemInfos":[]}'
        for headers in ({}, {"X-Signature": "00" * 32}):
            r = await pair.http.post(hook, content=body, headers=headers)
            assert r.status_code == 401, r.text
        r = await pair.http.post(f"{pair.a_url}/hooks/suppliers/nobody", content=body, headers={"X-Signature": "00"})
        assert r.status_code == 404
        from giftwell.domain.webhooks import x_signature

        signed = {"X-Signature": x_signature(pair.b["webhook_secret"], body)}
        r = await pair.http.post(hook, content=body, headers=signed)
        assert (r.status_code, r.json()) == (200, {"received": True, "settled": False})  # not an order of ours
        bad = b'{"status": 5}'
        r = await pair.http.post(hook, content=bad, headers={"X-Signature": x_signature(pair.b["webhook_secret"], bad)})
        assert r.status_code == 422


async def test_cards_from_a_supplier_are_not_sent_or_cancelled_by_giftwell(make_pair):
    async with make_pair() as pair:
        body = {
            "reference": "po-mail",
            "items": [
                {
                    "product": upstream.A_PRODUCT,
                    "amount": 1000,
                    "recipient": {"email": "ada@example.com"},
                    "delivery": {"channel": "email"},
                }
            ],
        }
        r = await pair.http.post(f"{pair.a_url}/v1/orders", json=body, headers=pair.buyer.headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["param"] == "items[0].delivery.channel"
        order_id = await pair.order("po-keep", 1)
        assert await pair.ended(order_id) == "completed"
        (card,) = await native_cards(pair, order_id)
        r = await pair.http.post(
            f"{pair.a_url}/v1/orders/{order_id}/cancel", json={"cards": [card["id"]]}, headers=pair.buyer.headers
        )
        assert r.status_code == 409, r.text
        whole = await pair.http.post(f"{pair.a_url}/v1/orders/{order_id}/cancel", headers=pair.buyer.headers)
        assert whole.status_code == 200, whole.text
        assert whole.json()["cancelled"] == 0
        assert ValidationFailed  # imported for the reader: refusals are the catalog's rule
