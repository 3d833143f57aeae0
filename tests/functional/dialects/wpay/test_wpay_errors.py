"""Every refusal of the Wpay dialect in its one body, with the vendor's code and the field in the
vendor's path, on both databases: the business codes, malformed input of every kind (never a 500,
never a rounding), the unknown order, a late reversal, the background model (Prefer:
respond-async), a rate limit, and the two 500s: GC-5555 for a transient failure (the database out
of reach) and GC-9999 for a final one (a supplier crashing), after which nothing was charged."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from giftwell.app import create_app
from giftwell.services.catalog import suppliers
from giftwell.settings import load_settings
from tests.conftest import TEST_SECRET
from tests.functional.delivery_support import runtime, work
from tests.functional.dialects.wpay.support import (
    FUNDS,
    ORDERS,
    PRICE,
    PRODUCT,
    Wpay,
    client,
    funding,
    item,
    ledger_ok,
    seed,
    seed_text,
)
from tests.pg import free_port

ITEM = "giftItemsInfo[0]"
DELIVERY = f"{ITEM}.fulfillmentInfoDto.deliveryInfo[0]"


def delivered(**changes):
    body = seed()
    fulfil = body["giftItemsInfo"][0]["fulfillmentInfoDto"]
    return item(body, fulfillmentInfoDto={**fulfil, **changes})


def delivery(**changes):
    body = seed()
    fulfil = body["giftItemsInfo"][0]["fulfillmentInfoDto"]
    return item(body, fulfillmentInfoDto={**fulfil, "deliveryInfo": [{**fulfil["deliveryInfo"][0], **changes}]})


@pytest.fixture
async def wp(make_app):
    return await client(make_app(public_url="http://testserver"))


# Each case: its name, the body, and the status, code and field of the answer.
CASES = [
    ("unknown product", item(seed(), productId="no-such-product"), 400, "8205", f"{ITEM}.productId"),
    ("unknown design", item(seed(), designId="NOPE"), 400, "5310", f"{ITEM}.designId"),
    ("another currency", item(seed(), currencyCode="NZD"), 400, "5310", f"{ITEM}.currencyCode"),
    ("unknown currency", item(seed(), currencyCode="XXX"), 400, "5310", f"{ITEM}.currencyCode"),
    ("a tenth of a cent", item(seed(), activationValue=Decimal("50.001")), 400, "5307", f"{ITEM}.activationValue"),
    ("below the range", item(seed(), activationValue=5), 400, "5307", f"{ITEM}.activationValue"),
    ("off the step", item(seed(), activationValue=Decimal("50.50")), 400, "5307", f"{ITEM}.activationValue"),
    ("negative", item(seed(), activationValue=-50), 400, "5307", f"{ITEM}.activationValue"),
    ("a string amount", item(seed(), activationValue="50"), 400, "5307", f"{ITEM}.activationValue"),
    ("a huge amount", item(seed(), activationValue=Decimal("1E+400")), 400, "5307", f"{ITEM}.activationValue"),
    ("a boolean amount", item(seed(), activationValue=True), 400, "5307", f"{ITEM}.activationValue"),
    ("mode POST", delivery(deliveryMode="POST"), 400, "5311", f"{DELIVERY}.deliveryMode"),
    ("EMAIL without email", delivery(email=None), 400, "5311", f"{DELIVERY}.email"),
    ("EMAIL to a bad address", delivery(email="not an address"), 400, "5311", f"{DELIVERY}.email"),
    ("SMS without mobile", delivery(deliveryMode="SMS", mobile=None), 400, "5311", f"{DELIVERY}.mobile"),
    ("SMS to a local number", delivery(deliveryMode="SMS", mobile="0411123123"), 400, "5311", f"{DELIVERY}.mobile"),
    (
        "SCHEDULED without a date",
        delivered(deliverySchedule={"scheduleType": "SCHEDULED"}),
        400,
        "5311",
        f"{ITEM}.fulfillmentInfoDto.deliverySchedule",
    ),
    (
        "SCHEDULED in the past",
        delivered(deliverySchedule={"scheduleType": "SCHEDULED", "deliveryDate": "2024-12-09"}),
        400,
        "5311",
        f"{ITEM}.fulfillmentInfoDto.deliverySchedule",
    ),
    (
        "a date that is no date",
        delivered(deliverySchedule={"scheduleType": "SCHEDULED", "deliveryDate": "2026-02-30"}),
        400,
        "5311",
        f"{ITEM}.fulfillmentInfoDto.deliverySchedule.deliveryDate",
    ),
    ("two deliveries", delivered(deliveryInfo=[{"deliveryMode": "EMAIL"}] * 2), 400, "5311", None),
    ("a gift without its sender", delivered(senderInfo=None), 400, "GC-4000", ITEM),
    ("an unknown field", seed(discountCode="X"), 400, "GC-4000", "discountCode"),
    ("an unknown nested field", item(seed(), colour="red"), 400, "GC-4000", f"{ITEM}.colour"),
    ("a NUL character", seed(invoiceNumber="32\x0034"), 400, "GC-4000", "invoiceNumber"),
    ("a number for a string", seed(storeId=6625), 400, "GC-4000", "storeId"),
    ("a string for a boolean", item(seed(), sendAsGift="true"), 400, "GC-4000", f"{ITEM}.sendAsGift"),
    ("no clientOrderNumber", {**seed(), "clientOrderNumber": None}, 400, "GC-4000", "clientOrderNumber"),
    ("an empty order", seed(giftItemsInfo=[]), 400, "GC-4000", "giftItemsInfo"),
    ("a quantity of 0", item(seed(), quantity=0), 400, "GC-4000", f"{ITEM}.quantity"),
    (
        "a long message",
        item(seed(), personalisationInfo=[{"personalisationType": "TEXT", "message": "x" * 501}]),
        400,
        "GC-4000",
        f"{ITEM}.personalisationInfo[0].message",
    ),
    (
        "a picture that is no URL",
        item(
            seed(),
            personalisationInfo=[
                {"personalisationType": "TEXT", "assets": {"images": [{"imageType": "WEB", "location": "ftp://x"}]}}
            ],
        ),
        400,
        "5311",
        f"{ITEM}.personalisationInfo[0].assets.images[0].location",
    ),
    (
        "a reversal naming no order",
        {"clientOrderNumber": "r", "reversal": True},
        400,
        "GC-4000",
        "originalClientOrderNumber",
    ),
]


async def test_each_refusal_has_its_code_and_field(wp):
    # One client for every case (a test each would spend its time making databases): each
    # refusal is checked alone, and none may have charged anything.
    for name, body, status, code, field in CASES:
        r = await wp.call("POST", ORDERS, body)
        assert (r.status_code, r.json()["errorCode"]) == (status, code), f"{name}: {r.text}"
        assert set(r.json()) == {"errorCode", "errorMessage", "correlationId", "field", "details"}, name
        if field is not None:
            assert r.json()["field"] == field, f"{name}: {r.text}"
    assert await funding(wp.rt, wp.signer.account_id) == (FUNDS, FUNDS)


NOT_AN_ORDER = [
    b"",
    b"not json",
    b"[1, 2]",
    b'{"a": NaN}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"x": "' + b"y" * 300_000 + b'"}',
]


async def test_bodies_that_are_not_an_order(wp):
    for raw in NOT_AN_ORDER:
        err = await wp.refused("POST", ORDERS, raw, status=400, code="GC-4000")
        assert err["field"] is None, raw[:20]


async def test_insufficient_balance_an_inactive_product_and_an_unknown_order(make_app):
    app = make_app(public_url="http://testserver")
    poor = await client(app, funds=PRICE * 3)
    err = await poor.refused("POST", ORDERS, seed_text().encode(), status=400, code="6063")
    assert err["correlationId"] == "12313"
    rt = runtime(app)
    from giftwell.services.catalog import products

    async with rt.uow() as uow:
        await products.save(uow, {**PRODUCT, "id": "retired-card", "active": False})
        await uow.commit()
    await poor.refused("POST", ORDERS, item(seed(), productId="retired-card"), status=400, code="5310")
    err = await poor.refused("GET", f"{ORDERS}/never-placed", None, status=404, code="5318")
    assert err["field"] is None
    await poor.refused("POST", f"{ORDERS}/never-placed/reverse", None, status=404, code="5318")
    await ledger_ok(rt)


async def test_a_late_reversal_and_a_scheduled_delivery(make_app, clock):
    app = make_app(public_url="http://testserver")
    wp = await client(app)
    tomorrow = (clock().date() + timedelta(days=1)).isoformat()
    order = await wp.submit(delivered(deliverySchedule={"scheduleType": "SCHEDULED", "deliveryDate": tomorrow}))
    assert order["status"] == "COMPLETED"
    assert await work(app) == 0  # the emails wait for their day
    clock.advance(hours=24, minutes=1)
    err = await wp.refused("POST", f"{ORDERS}/1234ABC/reverse", None, status=400, code="10466")
    assert err["field"] == "originalClientOrderNumber"
    assert date.fromisoformat(tomorrow) <= clock().date()
    assert await work(app) == 4  # and go out on it
    await ledger_ok(runtime(app))


async def test_an_order_left_to_the_background_answers_202_and_status_reads_it_back(make_app):
    app = make_app(public_url="http://testserver")
    wp = await client(app)
    r = await wp.call("POST", ORDERS, seed_text().encode(), headers={**wp.headers(), "Prefer": "respond-async"})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "PENDING"
    assert {c["status"] for c in r.json()["giftItemsInfo"][0]["giftCards"]} == {"PENDING"}
    await work(app)  # the fulfilment job
    r = await wp.call("GET", f"{ORDERS}/1234ABC")
    assert (r.status_code, r.json()["status"]) == (200, "COMPLETED")
    await ledger_ok(runtime(app))


async def test_rate_limited_requests_answer_429(make_app):
    app = make_app(public_url="http://testserver", rate_limit_per_ip="3/minute")
    wp = await client(app)
    statuses = [(await wp.call("GET", f"{ORDERS}/x")).status_code for _ in range(3)]
    assert statuses == [404, 404, 404]
    err = await wp.refused("GET", f"{ORDERS}/x", None, status=429, code="GC-4029")
    assert err["correlationId"] == "12313"


async def test_a_database_out_of_reach_is_gc_5555_retryable(make_app, db_url, tmp_path, clock):
    app = make_app(public_url="http://testserver")
    wp = await client(app)
    if db_url.startswith("postgresql"):
        unreachable = f"postgresql://giftwell@127.0.0.1:{free_port()}/giftwell"  # nothing listens there
    else:
        unreachable = f"sqlite:///{tmp_path}/no-such-dir/giftwell.db"  # cannot be opened
    settings = load_settings(database_url=unreachable, data_dir=tmp_path / "gone", secret_key=TEST_SECRET)
    gone = create_app(settings, clock=clock)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=gone), base_url="http://testserver")
    try:
        err = await Wpay(http, wp.rt, wp.signer).refused(
            "POST", ORDERS, seed_text().encode(), status=500, code="GC-5555"
        )
    finally:
        await gone.state.runtime.close()
    assert "retry" in err["errorMessage"]
    # Retrying with the same clientOrderNumber, once the database answers again, places it once.
    assert (await wp.submit(seed_text().encode()))["status"] == "COMPLETED"
    assert (await wp.call("POST", ORDERS, seed_text().encode())).headers["idempotent-replayed"] == "true"


async def test_a_crashing_supplier_is_gc_9999_and_charges_nothing(make_app, monkeypatch):
    class Crashing:
        async def issue(self, uow, req):
            raise RuntimeError("bug in the supplier")

    monkeypatch.setitem(suppliers.REGISTRY, "crashing", Crashing())
    app = make_app(public_url="http://testserver")
    wp = await client(app)
    rt = runtime(app)
    from giftwell.services.catalog import products

    async with rt.uow() as uow:
        await products.save(uow, {**PRODUCT, "id": "crashing-card", "supplier": "crashing"})
        await uow.commit()
    err = await wp.refused("POST", ORDERS, item(seed(), productId="crashing-card"), status=500, code="GC-9999")
    assert "bug" not in err["errorMessage"]
    assert await funding(rt, wp.signer.account_id) == (FUNDS, FUNDS)
    await ledger_ok(rt)
