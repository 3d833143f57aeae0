"""SMS through a real loopback gateway speaking Twilio's Messages API; the outbox folder of the
embedded default and `giftwell outbox list --json`; an order item's delivery. Both databases."""

from __future__ import annotations

import json

from tests import factories
from tests.conftest import TEST_SECRET
from tests.functional.delivery_support import LINK, events, http, runtime, send_card, tenant_api, work
from tests.peers import twilio_gateway
from tests.servers import cli, giftwell_env


async def test_sms_goes_through_a_twilio_shaped_gateway(make_app):
    with twilio_gateway() as gw:
        app = make_app(
            sms_url=gw.url,
            sms_account_sid="AC" + "0" * 32,
            sms_auth_token="sms-auth-token-value",
            sms_from="+15550009999",
            public_url="http://testserver",
        )
        rt = runtime(app)
        api = await tenant_api(app, rt)
        card = await send_card(api, {"channel": "sms", "to": "+1 (555) 010-0123", "sender_name": "Grace"}, amount=2500)
        assert card["delivery"]["to"] == "+15550100123"
        assert await work(app) == 1
        [req] = gw.requests
        assert req["type"] == "application/x-www-form-urlencoded"
        assert req["auth"] == "AC" + "0" * 32 + ":sms-auth-token-value"
        assert (req["form"]["To"], req["form"]["From"]) == ("+15550100123", "+15550009999")
        body = req["form"]["Body"]
        assert body.startswith("Grace sent you a €25.00 Acme Shop")
        [link] = LINK.findall(body)
        assert card["code"] not in body
        async with http(app) as browser:
            page = await browser.get(link.replace("http://testserver", ""))
        assert page.status_code == 200
        assert "€25.00" in page.text
        [d] = (await api.ok("GET", f"/v1/cards/{card['id']}/deliveries"))["data"]
        assert (d["status"], d["channel"]) == ("sent", "sms")


async def test_a_gateway_refusing_the_number_fails_the_delivery(make_app):
    with twilio_gateway([400]) as gw:
        app = make_app(sms_url=gw.url, sms_from="+15550009999", public_url="http://testserver")
        rt = runtime(app)
        api = await tenant_api(app, rt)
        card = await send_card(api, {"channel": "sms", "to": "+15550100123"})
        assert await work(app) == 1
        [d] = (await api.ok("GET", f"/v1/cards/{card['id']}/deliveries"))["data"]
        assert d["status"] == "failed"
        assert d["reason"] == "SMS gateway answered 400 21211 The 'To' number is not a valid phone number."
        assert [t for t, _ in await events(rt, "delivery.")] == ["delivery.queued", "delivery.failed"]


async def test_without_transports_messages_go_to_the_outbox_and_the_cli_lists_them(make_app, db_url, tmp_path):
    app = make_app(public_url="http://testserver")
    rt = runtime(app)
    api = await tenant_api(app, rt)
    mail = await send_card(api, {"channel": "email", "to": "ada@example.com", "sender_name": "Grace"})
    text = await send_card(api, {"channel": "sms", "to": "+15550100123"})
    assert await work(app) == 2
    outbox = tmp_path / "var" / "outbox"
    files = sorted(p.name for p in outbox.iterdir())
    assert len(files) == 2
    eml = next(outbox.glob("*.eml"))
    assert eml.stat().st_mode & 0o077 == 0  # the messages hold reward links: owner only
    raw = eml.read_text()
    assert "To: ada@example.com" in raw
    assert "Content-Type: multipart/alternative" in raw
    sms = json.loads(next(outbox.glob("*.sms.json")).read_text())
    assert (sms["to"], sms["delivery"]) == ("+15550100123", text["delivery"]["id"])
    assert LINK.search(sms["body"])

    env = giftwell_env(db_url, tmp_path / "var", TEST_SECRET)
    _, out = cli(env, "outbox", "list")
    assert out["dir"] == str(outbox)
    by_channel = {m["channel"]: m for m in out["messages"]}
    assert by_channel["email"]["to"] == "ada@example.com"
    assert by_channel["email"]["delivery"] == mail["delivery"]["id"]
    assert by_channel["email"]["subject"].startswith("Grace sent you a €50.00 Acme Shop")
    assert by_channel["sms"]["to"] == "+15550100123"
    assert {m["file"] for m in out["messages"]} == set(files)


async def test_an_order_items_delivery_sends_each_of_its_cards(make_app):
    app = make_app(public_url="http://testserver")
    rt = runtime(app)
    buyer = await factories.buyer(rt)
    from tests.functional.support import Api

    api = Api(http(app), buyer)
    order = await api.ok(
        "POST",
        "/v1/orders",
        {
            "reference": "po-delivery",
            "items": [
                {
                    "product": "acme-usd",
                    "amount": 1000,
                    "quantity": 2,
                    "country": "US",
                    "recipient": {"name": "Ada", "email": "ada@example.com"},
                    "sender": {"name": "Acme HR"},
                    "message": "Thank you!",
                    "delivery": {"channel": "email"},
                },
                {"product": "acme-usd", "amount": 1500, "country": "US"},
            ],
        },
    )
    assert order["status"] == "completed"
    assert await work(app) == 2
    outbox = (rt.settings.mail_dir).glob("*.eml")
    texts = [p.read_text() for p in outbox]
    assert len(texts) == 2
    cards = (await api.ok("GET", f"/v1/orders/{order['id']}/cards"))["data"]
    first_item = [c for c in cards if c["item"] == order["items"][0]["id"]]
    links = [c["link"] for c in first_item]
    for link in links:
        assert sum(link in t for t in texts) == 1  # each card's own link, the one the order shows
    sent = await events(rt, "delivery.sent")
    assert {e["order"] for _, e in sent} == {order["id"]}
    assert len(sent) == 2
    # The undelivered item's card still has a working link (the buyer delivers it).
    (other,) = [c["link"] for c in cards if c["item"] == order["items"][1]["id"]]
    async with http(app) as browser:
        page = await browser.get(other.replace("http://testserver", ""))
        assert page.status_code == 200
        assert "$15.00" in page.text
        assert "Acme" in page.text
        shown = await browser.get(links[0].replace("http://testserver", ""))
        assert "Thank you!" in shown.text
        assert "Acme HR" in shown.text
    await api.error(
        "POST",
        "/v1/orders",
        {
            "reference": "po-bad-phone",
            "items": [
                {
                    "product": "acme-usd",
                    "amount": 1000,
                    "country": "US",
                    "recipient": {"phone": "555 0100"},
                    "delivery": {"channel": "sms"},
                }
            ],
        },
        status=422,
        code="validation_error",
        param="items[0].recipient.phone",
    )


async def test_a_product_with_code_in_message_puts_the_code_in_email_and_sms(make_app):
    """The link is the default; a product that says so (`code_in_message`) sends the code too."""
    app = make_app(public_url="http://testserver")
    rt = runtime(app)
    buyer = await factories.buyer(rt)
    await factories.product(rt, id="acme-codes", code_in_message=True)
    from tests.functional.support import Api

    api = Api(http(app), buyer)
    shown = await api.ok("GET", "/v1/products/acme-codes")
    assert shown["code_in_message"] is True
    assert (await api.ok("GET", "/v1/products/acme-usd"))["code_in_message"] is False
    order = await api.ok(
        "POST",
        "/v1/orders",
        {
            "reference": "po-codes",
            "items": [
                {
                    "product": product,
                    "amount": 1000,
                    "country": "US",
                    "recipient": {"name": "Ada", "email": f"{product}@example.com", "phone": "+15550100123"},
                    "delivery": {"channel": channel},
                }
                for product in ("acme-codes", "acme-usd")
                for channel in ("email", "sms")
            ],
        },
    )
    assert order["status"] == "completed"
    assert await work(app) == 4
    cards = {c["item"]: c for c in (await api.ok("GET", f"/v1/orders/{order['id']}/cards"))["data"]}
    code = {(i["product"], i["delivery"]["channel"]): cards[i["id"]]["code"] for i in order["items"]}
    outbox = rt.settings.mail_dir
    emls = {p.read_text(): p for p in outbox.glob("*.eml")}
    smses = [json.loads(p.read_text()) for p in outbox.glob("*.json")]
    assert len(emls) == 2
    assert len(smses) == 2
    [with_code] = [t for t in emls if "acme-codes@example.com" in t]
    [without] = [t for t in emls if "acme-usd@example.com" in t]
    # Both MIME parts carry it (quoted-printable or not, the code's symbols survive as they are).
    assert with_code.count(code["acme-codes", "email"]) >= 2
    assert code["acme-usd", "email"] not in without
    sms_bodies = " | ".join(json.dumps(s) for s in smses)
    assert code["acme-codes", "sms"] in sms_bodies
    assert code["acme-usd", "sms"] not in sms_bodies
    # The link is still there in every message.
    assert all(LINK.search(t) for t in emls)
