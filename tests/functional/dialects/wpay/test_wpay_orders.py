"""Submit Order as the seed sends it, on both databases: the seed's body exactly (its quantity 4)
delivered by EMAIL to a real SMTP server on loopback and by SMS through a loopback gateway, each
with the sender's name, the message, the picture and the design; self-managed fulfilment
answering with the codes; the status call echoing every field; 11 cards refused; a resubmit
replayed and a changed one refused; reversal of an unused and of a partly redeemed order;
`ledger verify` after each."""

from __future__ import annotations

from decimal import Decimal

from giftwell.services.access import accounts
from giftwell.services.cards import money
from tests.functional.delivery_support import LINK, events, http, parts, runtime, work
from tests.functional.dialects.wpay.support import (
    DESIGN,
    FUNDS,
    ORDERS,
    PRICE,
    PRODUCT_ID,
    RECIPIENT,
    WEB_IMAGE,
    client,
    funding,
    item,
    ledger_ok,
    seed,
    seed_text,
)
from tests.peers import smtp_server, twilio_gateway


def managed_app(make_app, **extra):
    return make_app(public_url="http://testserver", mail_from="Gifts <gifts@giftwell.example>", **extra)


async def test_the_seed_body_exactly_four_cards_by_email(make_app):
    with smtp_server() as (url, smtp):
        app = managed_app(make_app, smtp_url=url)
        rt = runtime(app)
        wp = await client(app)
        r = await wp.call("POST", ORDERS, seed_text().encode())
        assert r.status_code == 200, r.text
        assert r.headers["x-correlation-id"] == "12313"
        order = r.json()
        assert (order["clientOrderNumber"], order["status"], order["correlationId"]) == (
            "1234ABC",
            "COMPLETED",
            "12313",
        )
        assert order["totalCards"] == 4
        assert order["totalActivationValue"] == 200.00
        assert order["totalCharged"] == 4 * PRICE / 100
        [it] = order["giftItemsInfo"]
        assert (it["productId"], it["designId"], it["quantity"], it["itemStatus"]) == (
            PRODUCT_ID,
            DESIGN["id"],
            4,
            "COMPLETED",
        )
        cards = it["giftCards"]
        assert len(cards) == 4
        for c in cards:  # managed: Giftwell delivers, so the codes are not in the answer
            assert (c["status"], c["fulfilment"], c["cardNumber"], c["pin"], c["cardUrl"]) == (
                "ACTIVE",
                "MANAGED",
                None,
                None,
                None,
            )
            assert c["activationValue"] == 50.00
        assert await funding(rt, wp.signer.account_id) == (FUNDS - 4 * PRICE, FUNDS - 4 * PRICE)
        await ledger_ok(rt)

        assert await work(app) == 4
        assert len(smtp.messages) == 4
        assert {tuple(rcpt) for _, rcpt in smtp.envelopes} == {(RECIPIENT,)}
        links = set()
        for msg in smtp.messages:
            assert msg["Subject"] == "John Doe sent you a A$50.00 Woolworths gift card"
            assert msg["From"] == "John Doe via Gifts <gifts@giftwell.example>"
            text, html = parts(msg)
            assert "Surprise!" in text
            assert "Design: Swap and save" in text
            assert f'src="{WEB_IMAGE.replace("&", "&amp;")}"' in html
            assert f'src="{DESIGN["image_url"]}"' in html
            [link] = set(LINK.findall(text))
            links.add(link)
        assert len(links) == 4  # one card each
        assert [t for t, _ in await events(rt, "delivery.sent")] == ["delivery.sent"] * 4
        async with http(app) as browser:
            page = await browser.get(next(iter(links)).replace("http://testserver", ""))
        assert page.status_code == 200
        assert "Surprise!" in page.text
        assert "A$50.00" in page.text


async def test_the_seed_body_by_sms(make_app):
    with twilio_gateway() as gw:
        app = managed_app(make_app, sms_url=gw.url, sms_from="+61400000000")
        rt = runtime(app)
        wp = await client(app)
        body = seed()
        [it] = body["giftItemsInfo"]
        delivery = {**it["fulfillmentInfoDto"]["deliveryInfo"][0], "deliveryMode": "SMS"}
        body = item(body, fulfillmentInfoDto={**it["fulfillmentInfoDto"], "deliveryInfo": [delivery]})
        order = await wp.submit(body)
        assert order["status"] == "COMPLETED"
        assert await work(app) == 4
        assert [r["form"]["To"] for r in gw.requests] == ["+61411123123"] * 4
        for r in gw.requests:
            assert r["form"]["Body"].startswith("John Doe sent you a A$50.00 Woolworths")
            assert LINK.search(r["form"]["Body"])
        await ledger_ok(rt)


async def test_self_managed_answers_with_the_codes_and_the_status_call_echoes_every_field(make_app):
    app = managed_app(make_app)
    rt = runtime(app)
    wp = await client(app)
    body = seed()
    [it] = body["giftItemsInfo"]
    body = item(body, fulfillmentInfoDto={k: v for k, v in it["fulfillmentInfoDto"].items() if k != "deliveryInfo"})
    order = await wp.submit(body)
    cards = order["giftItemsInfo"][0]["giftCards"]
    assert len(cards) == 4
    for c in cards:
        assert c["fulfilment"] == "SELF_MANAGED"
        assert len(c["cardNumber"]) == 19  # the default format, grouped: XXXX-XXXX-XXXX-XXXX
        assert c["expiryDate"]  # the product's 24 months
        assert LINK.fullmatch(c["cardUrl"])
    assert await work(app) == 0  # nothing to send

    r = await wp.call("GET", f"{ORDERS}/1234ABC", correlation="status-1")
    assert r.status_code == 200, r.text
    status = r.json()
    assert status["correlationId"] == "status-1"
    assert [c["cardNumber"] for c in status["giftItemsInfo"][0]["giftCards"]] == [c["cardNumber"] for c in cards]
    # Every field of the request comes back as sent, amounts exact.
    for key, value in body.items():
        if key != "giftItemsInfo":
            assert status[key] == _plain(value), key
    echoed = {k: v for k, v in status["giftItemsInfo"][0].items() if k not in ("itemStatus", "giftCards")}
    assert echoed == _plain(body["giftItemsInfo"][0])
    assert status["paymentInfo"]["donationsInfo"][0]["amount"] == 1.99
    assert status["giftItemsInfo"][0]["fulfillmentInfoDto"]["deliveryFee"] == 5.95
    # The client's references are metadata too: the native API finds the order by them.
    async with http(app) as native:
        tok = await _native_token(rt, wp.signer.account_id)
        found = await native.get("/v1/orders", params={"metadata[invoiceNumber]": "3234234"}, headers=tok)
        assert [o["reference"] for o in found.json()["data"]] == ["1234ABC"]
        found = await native.get("/v1/orders", params={"item_metadata[clientItemId]": "10001"}, headers=tok)
        assert [o["reference"] for o in found.json()["data"]] == ["1234ABC"]
    await ledger_ok(rt)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return float(value) if isinstance(value, Decimal) else value


async def _native_token(rt, account_id):
    from giftwell.services.access import tokens

    async with rt.uow() as uow:
        made = await tokens.create_token(uow, account_id=account_id, scopes=["orders:read"])
        await uow.commit()
    return {"Authorization": f"Bearer {made.token}"}


async def test_eleven_cards_are_refused_and_ten_are_not(make_app):
    app = managed_app(make_app)
    rt = runtime(app)
    wp = await client(app, funds=10 * FUNDS)
    err = await wp.refused("POST", ORDERS, item(seed(), quantity=11), status=400, code="5338")
    assert err["field"] == "giftItemsInfo"
    two = seed()
    two["giftItemsInfo"] = [{**two["giftItemsInfo"][0], "quantity": 6}, {**two["giftItemsInfo"][0], "quantity": 5}]
    await wp.refused("POST", ORDERS, two, status=400, code="5338")
    assert await funding(rt, wp.signer.account_id) == (10 * FUNDS, 10 * FUNDS)
    order = await wp.submit(item(seed(clientOrderNumber="ten"), quantity=10))
    assert order["totalCards"] == 10
    await ledger_ok(rt)


async def test_a_resubmit_replays_and_a_changed_body_is_a_duplicate(make_app):
    app = managed_app(make_app)
    rt = runtime(app)
    wp = await client(app)
    first = await wp.submit(seed_text().encode())
    # The same body again (spaced and ordered otherwise, 50 written 50.0): the original answer.
    again = await wp.call("POST", ORDERS, item(seed(), activationValue=Decimal("50.0")))
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["orderNumber"] == first["orderNumber"]
    err = await wp.refused("POST", ORDERS, item(seed(), quantity=3), status=400, code="5313")
    assert err["field"] == "clientOrderNumber"
    assert await funding(rt, wp.signer.account_id) == (FUNDS - 4 * PRICE, FUNDS - 4 * PRICE)
    await ledger_ok(rt)


async def test_reversal_of_an_unused_order_and_of_a_partly_redeemed_one(make_app):
    app = managed_app(make_app)
    rt = runtime(app)
    wp = await client(app)
    await wp.submit(seed_text().encode())
    r = await wp.call("POST", f"{ORDERS}/1234ABC/reverse")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "REVERSED"
    assert done["reversal"] == {
        "clientOrderNumber": None,
        "reversedCards": 4,
        "alreadyReversed": False,
        "refundedAmount": 4 * PRICE / 100,
    }
    assert {c["status"] for c in done["giftItemsInfo"][0]["giftCards"]} == {"REVERSED"}
    assert await funding(rt, wp.signer.account_id) == (FUNDS, FUNDS)
    await ledger_ok(rt)

    # By Submit Order with the reversal flag, on an order one of whose cards was partly redeemed.
    placed = await wp.submit(item(seed(clientOrderNumber="second"), fulfillmentInfoDto=None, sendAsGift=False))
    used = placed["giftItemsInfo"][0]["giftCards"][2]
    async with rt.uow() as uow:
        issuer = (await accounts.operator_account(uow)).id
        card_id = await _card_id(uow, used["cardId"])
        await money.redeem(uow, account_id=issuer, card_id=card_id, amount=1000)
        await uow.commit()
    reversal = {"clientOrderNumber": "rev-1", "originalClientOrderNumber": "second", "reversal": True}
    err = await wp.refused("POST", ORDERS, reversal, status=400, code="10467")
    assert err["field"] == "originalClientOrderNumber"
    assert await funding(rt, wp.signer.account_id) == (FUNDS - 4 * PRICE, FUNDS - 4 * PRICE)
    await ledger_ok(rt)

    third = await wp.submit(seed(clientOrderNumber="third"))
    assert third["status"] == "COMPLETED"
    back = await wp.submit({**reversal, "originalClientOrderNumber": "third"})
    assert (back["clientOrderNumber"], back["status"], back["reversal"]["clientOrderNumber"]) == (
        "third",
        "REVERSED",
        "rev-1",
    )
    again = await wp.submit({**reversal, "originalClientOrderNumber": "third"})
    assert again["reversal"]["alreadyReversed"] is True
    await ledger_ok(rt)


async def _card_id(uow, unit_id):
    import sqlalchemy as sa

    from giftwell.store.models import OrderCard

    return await uow.conn.scalar(sa.select(OrderCard.card_id).where(OrderCard.id == unit_id))
