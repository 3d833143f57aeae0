"""An order item larger than the supplier's `max_quantity` is bought in several upstream orders,
each with its own derived `referenceId`: placed only once every unit of its part is handed to it
(a fulfilment batch may cut a part in two), each settling only its own units, the part size
fixed by the item's first purchase. Then the same against a live B: 25 cards bought 10, 10 and 5,
a 500 on one of the orders retried without buying twice. Both databases (A's)."""

from __future__ import annotations

import sqlalchemy as sa

from giftwell.domain.suppliers import UpstreamCard, UpstreamOrder
from giftwell.services.catalog.upstream import config
from giftwell.services.orders import fulfilment
from giftwell.services.orders import upstream as purchases
from giftwell.store.models import Job, Order, OrderCard, OrderItem, SupplierOrder
from tests import factories, upstream
from tests.integration.suppliers.test_upstream_giftwell import funds, ledger_ok, orders_at_b
from tests.upstream import Fault

B2B = "/api/b2b"


async def purchase_rows(rt) -> list:
    async with rt.reader() as uow:
        return list((await uow.conn.execute(sa.select(SupplierOrder).order_by(SupplierOrder.part))).all())


async def unit_statuses(rt, order_id: str) -> list[str]:
    async with rt.reader() as uow:
        q = sa.select(OrderCard.status).where(OrderCard.order_id == order_id).order_by(OrderCard.position)
        return list((await uow.conn.execute(q)).scalars())


async def batch(rt, order_id: str, limit: int) -> int:
    async with rt.uow() as uow:
        done = await fulfilment.run_batch(uow, order_id, limit=limit)
        await uow.commit()
    return done


def made(n: int, status: str = "completed") -> tuple[UpstreamCard, ...]:
    return tuple(
        UpstreamCard(status=status, code=f"UP-{i}", instruction=f"Enter UP-{i} at upstream.example")
        if status == "completed"
        else UpstreamCard(status=status)
        for i in range(n)
    )


async def test_parts_wait_for_their_units_and_settle_only_their_own(rt, app_client):
    await factories.operator(rt)
    async with rt.uow() as uow:
        # Nobody answers at port 9: any call to the upstream here would raise.
        await config.add_supplier(
            uow,
            name="far",
            kind="wizzgift",
            base_url="http://127.0.0.1:9/api/b2b",
            client_id="cli_far",
            client_secret="far-secret",
            max_quantity=10,
        )
        await uow.commit()
    await factories.product(rt, id="via-far", supplier="far", supplier_product="acme-usd")
    buyer = await factories.tenant(rt)
    await factories.fund(rt, buyer.account_id, 1_000_000)
    body = {"amount": 10, "referenceId": "po-parts", "quantity": 25, "productId": "via-far", "requiredInfoFromUser": []}
    r = await app_client.post(f"{B2B}/order", json=body, headers=buyer.headers)
    assert r.status_code == 200, r.text
    order_id = r.json()["data"]["id"]
    async with rt.reader() as uow:
        item = (await uow.conn.execute(sa.select(OrderItem.id).where(OrderItem.order_id == order_id))).scalar_one()

    # The first batch hands units 0-6 over: part 1 (units 0-9) exists, and waits for 7-9.
    assert await batch(rt, order_id, 7) == 7
    (p1,) = await purchase_rows(rt)
    assert (p1.part, p1.part_size, p1.reference, p1.status) == (1, 10, f"gw-{item}-1", "placing")
    step = await purchases.advance(rt, p1.id)
    assert step.retry_in is not None
    assert step.reason == "3 card(s) of this part still to be ordered"
    # The operator changes the largest order meanwhile: this item keeps its parts of 10.
    async with rt.uow() as uow:
        await config.update_supplier(uow, name="far", max_quantity=4)
        await uow.commit()

    while await batch(rt, order_id, 7):
        pass
    rows = await purchase_rows(rt)
    assert [(p.part, p.part_size, p.reference) for p in rows] == [
        (1, 10, f"gw-{item}-1"),
        (2, 10, f"gw-{item}-2"),
        (3, 10, f"gw-{item}-3"),
    ]
    async with rt.reader() as uow:
        bodies = [(await purchases._purchase(uow, p.id)).body for p in rows]
        keys = (await uow.conn.execute(sa.select(Job.dedupe_key).where(Job.kind == "supplier.order"))).scalars()
        assert sorted(keys) == [f"supplier.order:{item}:{n}" for n in (1, 2, 3)]
    assert [(b["referenceId"], b["quantity"]) for b in bodies] == [
        (f"gw-{item}-1", 10),
        (f"gw-{item}-2", 10),
        (f"gw-{item}-3", 5),
    ]
    assert {b["amount"] for b in bodies} == {10}
    assert await unit_statuses(rt, order_id) == ["ordered"] * 25

    # Each purchase settles its own units only, whatever order the answers come in.
    p1, p2, p3 = rows
    assert await purchases.apply(rt, p3.id, UpstreamOrder("u3", p3.reference, "completed", 5, made(5)))
    assert await unit_statuses(rt, order_id) == ["ordered"] * 20 + ["issued"] * 5
    assert await purchases.apply(rt, p1.id, UpstreamOrder("u1", p1.reference, "failed", 10, made(10, "failed")))
    partial = made(4) + made(1, "failed") + made(5)
    assert await purchases.apply(rt, p2.id, UpstreamOrder("u2", p2.reference, "partial", 10, partial))
    assert await purchases.apply(rt, p2.id, UpstreamOrder("u2", p2.reference, "completed", 10, made(10))) is False
    assert await unit_statuses(rt, order_id) == ["failed"] * 10 + ["issued"] * 4 + ["failed"] + ["issued"] * 10
    async with rt.reader() as uow:
        order = (await uow.conn.execute(sa.select(Order).where(Order.id == order_id))).one()
    assert (order.status, order.card_count) == ("partial", 25)
    shown = (await app_client.get(f"{B2B}/order", params={"id": order_id}, headers=buyer.headers)).json()["data"]
    assert (shown["status"], shown["orderedQuantity"]) == ("partial", 25)
    done = [i for i in shown["redeemInfos"] if i["status"] == "completed"]
    assert len(done) == 14
    # Each card with the upstream's own instructions for it, and its code.
    assert [(i["code"], i["instruction"]) for i in done[-5:]] == [
        (f"UP-{n}", f"Enter UP-{n} at upstream.example") for n in range(5)
    ]
    await ledger_ok(rt)


async def test_25_cards_from_b_bought_in_three_orders_of_at_most_10(make_pair):
    # B's first answer to an order is a 500 (B took nothing): retried, never bought twice.
    async with make_pair(plan={("POST", "/api/b2b/order"): [Fault(500)]}) as pair:
        async with pair.ra.uow() as uow:
            await config.update_supplier(uow, name=upstream.SUPPLIER, max_quantity=10)
            await uow.commit()
        before = await funds(pair.ra, pair.buyer.account_id)
        order_id = await pair.order("po-split", 25)
        assert await pair.ended(order_id) == "completed"
        shown = await pair.shown(order_id)
        assert (shown["status"], shown["orderedQuantity"], len(shown["redeemInfos"])) == ("completed", 25, 25)
        assert len({i["code"] for i in shown["redeemInfos"]}) == 25
        async with pair.ra.reader() as uow:
            item = (await uow.conn.execute(sa.select(OrderItem.id).where(OrderItem.order_id == order_id))).scalar_one()
        at_b = [await orders_at_b(pair, f"gw-{item}-{n}") for n in (1, 2, 3)]
        assert [[(o.card_count, o.status, o.charged) for o in found] for found in at_b] == [
            [(10, "completed", 10 * 975)],
            [(10, "completed", 10 * 975)],
            [(5, "completed", 5 * 975)],
        ]
        assert await orders_at_b(pair, f"gw-{item}") == []
        assert pair.proxy.count("POST", "/api/b2b/order") == 4  # three orders and the one retry
        # Sold once at A's price; the codes redeem on B.
        assert await funds(pair.ra, pair.buyer.account_id) == (before[0] - 25 * 990,) * 2
        op = pair.b["operator"]
        r = await pair.http.post(
            f"{pair.b_url}/api/giftcards/redeem",
            json={"giftcard_code": shown["redeemInfos"][24]["code"], "amount": 10},
            headers=op.headers,
        )
        assert r.status_code == 200, r.text
        await ledger_ok(pair.ra)
        await ledger_ok(pair.rb)
