"""Order events reach a real receiver on loopback with both signature schemes valid: Standard
Webhooks checked by the `standardwebhooks` package, X-Signature by the seed's own JavaScript
function run by node on the body as received, and that body a fixed point of
JSON.stringify(JSON.parse(body)). Names with non-ASCII letters, quotes and emoji. Both databases."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook

from giftwell.domain.orders import Mode
from giftwell.services.catalog import suppliers
from giftwell.services.orders import fulfilment, placing
from giftwell.services.orders import views as order_views
from giftwell.services.orders.placing import ItemRequest, OrderRequest
from giftwell.services.webhooks import endpoints as webhook_endpoints
from tests import factories
from tests.integration.webhook_support import drive
from tests.receivers import Receiver, node_verify

REFERENCE_DONE = 'Zoë’s "Geburtstag" 🎂 — Ünïcødé \\ «ok»'
REFERENCE_PARTIAL = "Ćwierć-zamówienie “partial” 🎁🇵🇱 日本語"
INSTRUCTIONS = 'Löse ihn ein: „Geschenk“ — "quoted" 🎉\n\tline two </script> \u2028 end'


class RefuseSecond:
    """House cards, but the second card of every order fails."""

    async def issue(self, uow, req):
        if req.index == 1:
            raise suppliers.SupplyFailed("out of stock: «Ausverkauft» 😢")
        return await suppliers.HouseSupplier().issue(uow, req)


async def place(rt, account_id, product, quantity, reference, mode):
    req = OrderRequest(reference, [ItemRequest(product, 2000, quantity)], mode=mode)
    async with rt.uow() as uow:
        view = await placing.place_order(uow, account_id=account_id, req=req)
        await uow.commit()
    return view


@pytest.fixture
def receiver():
    rx = Receiver().start()
    yield rx
    rx.stop()


async def test_completed_and_partial_orders_arrive_with_both_signatures_valid(
    rt, clock, receiver, tmp_path, monkeypatch
):
    t = await factories.buyer(rt, funds=1_000_000)
    monkeypatch.setitem(suppliers.REGISTRY, "refuse-second", RefuseSecond())
    await factories.product(rt, id="acme-usd", redemption_instructions=INSTRUCTIONS, name="Acme «Geschenk» 🎁")
    await factories.product(rt, id="flaky-usd", supplier="refuse-second", redemption_instructions=INSTRUCTIONS)
    native_id, native_secret = await factories.webhook_endpoint(
        rt, t.account_id, receiver.url("/native"), events=["order.completed", "order.partial"]
    )
    wizz_id, wizz_secret = await factories.webhook_endpoint(rt, t.account_id, receiver.url("/wizz"), format="wizzgift")

    done = await place(rt, t.account_id, "acme-usd", 2, REFERENCE_DONE, Mode.SYNC)
    assert done.status == "completed"
    partial = await place(rt, t.account_id, "flaky-usd", 3, REFERENCE_PARTIAL, Mode.ASYNC)
    assert await fulfilment.fulfil(rt, partial.id) == "partial"
    await drive(rt, clock)

    native, wizz = receiver.by_path("/native"), receiver.by_path("/wizz")
    assert len(native) == 2
    assert len(wizz) == 2
    secrets = {"/native": native_secret, "/wizz": wizz_secret}

    for r in native + wizz:
        # Standard Webhooks, with the package (it checks the timestamp against the real clock too).
        Webhook(secrets[r.path]).verify(r.body, r.headers)
        assert r.headers["content-type"] == "application/json"
        assert "x-signature-previous" not in r.headers
    # The seed's JavaScript, on the body as it arrived.
    results = node_verify([(r.body, r.headers["x-signature"], secrets[r.path]) for r in native + wizz], tmp_path)
    assert results == [{"valid": True, "identical": True}] * 4
    # Not ASCII-escaped: the names travel as UTF-8.
    assert "Zoë’s".encode() in native[0].body + native[1].body

    by_type = {r.json()["type"]: r for r in native}
    assert set(by_type) == {"order.completed", "order.partial"}
    for r in native:
        body = r.json()
        assert list(body) == ["id", "type", "created_at", "data"]
        assert r.headers["webhook-id"] == body["id"]
        assert body["id"].startswith("evt_")
    assert by_type["order.completed"].json()["data"] == {
        "order": done.id,
        "reference": REFERENCE_DONE,
        "status": "completed",
        "charged": 2 * 1950,
        "issued": 2,
        "failed": 0,
    }
    assert by_type["order.partial"].json()["data"]["reference"] == REFERENCE_PARTIAL

    # The wizzgift body: exactly the seed's fields, in the seed's order.
    bodies = {r.json()["id"]: r.json() for r in wizz}
    assert set(bodies) == {done.id, partial.id}
    async with rt.uow() as uow:
        shown = await order_views.reveal_order(uow, account_id=t.account_id, order_id=partial.id)
    p = bodies[partial.id]
    assert list(p) == ["id", "referenceId", "status", "orderedQuantity", "redeemInfos"]
    assert (p["referenceId"], p["status"], p["orderedQuantity"]) == (REFERENCE_PARTIAL, "partial", 3)
    assert [i["status"] for i in p["redeemInfos"]] == ["completed", "failed", "completed"]
    assert p["redeemInfos"][1] == {"rewardId": shown.items[0].cards[1].id, "status": "failed"}
    first = shown.items[0].cards[0]
    assert p["redeemInfos"][0] == {
        "link": first.link,
        "rewardId": first.id,
        "instruction": INSTRUCTIONS,
        "code": first.code,
        "transactionId": first.card_id,
        "expiryDate": first.expires_at.date().isoformat(),
        "status": "completed",
    }
    d = bodies[done.id]
    assert (d["referenceId"], d["status"], d["orderedQuantity"]) == (REFERENCE_DONE, "completed", 2)
    assert [i["status"] for i in d["redeemInfos"]] == ["completed", "completed"]
    # The same event, to two endpoints: the same webhook-id.
    completed_event = by_type["order.completed"].headers["webhook-id"]
    assert [r.headers["webhook-id"] for r in wizz if r.json()["id"] == done.id] == [completed_event]
    del native_id, wizz_id


async def test_during_a_rotation_both_secrets_sign(rt, clock, receiver, tmp_path):
    t = await factories.tenant(rt)
    ep, old = await factories.webhook_endpoint(rt, t.account_id, receiver.url("/r"), events=["card.created"])
    async with rt.uow() as uow:
        new = (
            await webhook_endpoints.rotate_secret(uow, account_id=t.account_id, endpoint_id=ep, overlap_seconds=3600)
        ).secret
        await uow.commit()
    assert new != old
    await factories.card(rt, t.account_id)
    await drive(rt, clock)
    (r,) = receiver.by_path("/r")
    assert len(r.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(r.body, r.headers)
    Webhook(new).verify(r.body, r.headers)
    checks = node_verify(
        [
            (r.body, r.headers["x-signature"], new),
            (r.body, r.headers["x-signature-previous"], old),
            (r.body, r.headers["x-signature"], old),
        ],
        tmp_path,
    )
    assert [c["valid"] for c in checks] == [True, True, False]

    # After the overlap only the new secret signs.
    clock.advance(seconds=3601)
    await factories.card(rt, t.account_id)
    await drive(rt, clock)
    later = receiver.by_path("/r")[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    assert "x-signature-previous" not in later.headers
    (check,) = node_verify([(later.body, later.headers["x-signature"], new)], tmp_path)
    assert check == {"valid": True, "identical": True}
