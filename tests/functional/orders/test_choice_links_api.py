"""Choice reward links over HTTP: placed with `POST /v1/orders` (`choice`, or a country alone),
listed with `GET /v1/orders/{id}/links` (initial and unspent balance, opens, picks), emailed to
the item's recipient through a real SMTP server, and spent on the recipient's page `/r/{token}`
(CSRF-checked picks, the same form twice makes one card). Both databases."""

from __future__ import annotations

import re

from tests import factories
from tests.functional.delivery_support import LINK, events, http, runtime, work
from tests.functional.support import Api, assert_ledger_ok, expect_error
from tests.peers import smtp_server
from tests.receivers import Receiver

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
KEY = re.compile(r'name="pick_key" value="([^"]+)"')


async def setup(app):
    rt = runtime(app)
    t = await factories.buyer(rt, funds=1_000_000)
    await factories.product(rt, id="books-usd", name="Books", denominations={"values": [1000, 2500, 5000]})
    await factories.product(rt, id="music-usd", name="Music")
    return rt, Api(http(app), t)


async def test_a_choice_order_its_links_its_email_and_picks_on_the_page(make_app, clock):
    with smtp_server() as (url, smtp):
        app = make_app(smtp_url=url, mail_from="Gifts <gifts@acme.example>", public_url="http://testserver")
        rt, api = await setup(app)
        body = {
            "reference": "choice-1",
            "items": [
                {
                    "amount": 6000,
                    "choice": {"products": ["books-usd", "music-usd"]},
                    "recipient": {"name": "Ada", "email": "ada@example.com"},
                    "sender": {"name": "Grace"},
                    "delivery": {"channel": "email"},
                }
            ],
        }
        order = await api.ok("POST", "/v1/orders", body)
        assert order["status"] == "completed"
        assert order["items"][0]["product"] is None
        assert order["items"][0]["choice"]["products"] == ["books-usd", "music-usd"]
        page = await api.ok("GET", f"/v1/orders/{order['id']}/links")
        (link,) = page["data"]
        assert (link["initial_balance"], link["unspent_balance"], link["status"]) == (6000, 6000, "active")
        assert link["open_count"] == 0
        assert link["picks"] == []
        assert page["has_more"] is False
        # The order's cards list shows the unit as its link, with the link's balances.
        (unit,) = (await api.ok("GET", f"/v1/orders/{order['id']}/cards"))["data"]
        assert (unit["id"], unit["card_id"], unit["code"]) == (link["order_card"], None, None)
        assert (unit["initial_balance"], unit["current_balance"], unit["link"]) == (6000, 6000, link["link"])

        assert await work(app) == 1
        (msg,) = smtp.messages
        assert msg["To"] == "Ada <ada@example.com>"
        assert msg["From"] == "Grace via Gifts <gifts@acme.example>"
        text = msg.get_content()
        assert "$60.00" in text
        assert LINK.findall(text) == [link["link"]]
        sent = [d for t, d in await events(rt, "delivery.sent")]
        assert sent[0]["order"] == order["id"]

        path = link["link"].replace("http://testserver", "")
        async with http(app) as browser:
            shown = await browser.get(path)
            assert shown.status_code == 200, shown.text
            assert "$60.00" in shown.text
            assert "Books" in shown.text
            assert "Music" in shown.text
            csrf = CSRF.search(shown.text).group(1)
            key = KEY.search(shown.text).group(1)
            form = {"csrf": csrf, "pick_key": key, "product": "books-usd", "amount": "25"}
            assert (await browser.post(f"{path}/pick", data={**form, "csrf": "x" * 64})).status_code == 403
            first = await browser.post(f"{path}/pick", data=form)
            assert first.status_code == 303, first.text
            # The same form again (a double click): the same card, nothing spent twice.
            again = await browser.post(f"{path}/pick", data=form)
            assert again.headers["location"] == first.headers["location"]
            card_page = await browser.get(first.headers["location"].replace("http://testserver", ""))
            assert card_page.status_code == 200
            assert "$25.00" in card_page.text
            # Refused amounts answer the page with the reason, naming nothing spent.
            shown = await browser.get(path)
            key = KEY.search(shown.text).group(1)
            assert key == "1"
            for amount, words in (("abc", "Enter an amount"), ("40", "left"), ("12.345", "Enter an amount")):
                bad = await browser.post(
                    f"{path}/pick", data={**form, "pick_key": key, "product": "music-usd", "amount": amount}
                )
                assert bad.status_code == 422, amount
                assert words in bad.text, (amount, bad.text)
            rest = await browser.post(
                f"{path}/pick", data={**form, "pick_key": key, "product": "music-usd", "amount": "35"}
            )
            assert rest.status_code == 303
            done = await browser.get(path)
            assert "You have chosen all your gift cards" in done.text
            assert "Books: $25.00" in done.text
            assert "Music: $35.00" in done.text

        (link,) = (await api.ok("GET", f"/v1/orders/{order['id']}/links"))["data"]
        assert link["unspent_balance"] == 0
        (unit,) = (await api.ok("GET", f"/v1/orders/{order['id']}/cards"))["data"]
        assert (unit["initial_balance"], unit["current_balance"]) == (6000, 0)
        assert [(p["product"], p["amount"]) for p in link["picks"]] == [("books-usd", 2500), ("music-usd", 3500)]
        assert link["open_count"] == 3
        assert link["first_opened_at"] is not None
        await assert_ledger_ok(rt)


async def test_refused_choice_items_and_other_tenants(make_app):
    app = make_app(public_url="http://testserver")
    rt, api = await setup(app)
    r = await api.client.post(
        "/v1/orders",
        json={"reference": "x", "items": [{"amount": 1000, "choice": {"products": ["nope"]}}]},
        headers=api.headers,
    )
    expect_error(r, 422, "validation_error", "items[0].choice.products[0]")
    r = await api.client.post(
        "/v1/orders",
        json={
            "reference": "x",
            "one_country": True,
            "items": [{"amount": 1000, "country": "US"}, {"amount": 1000, "country": "CA", "currency": "USD"}],
        },
        headers=api.headers,
    )
    err = expect_error(r, 422, "validation_error", "items[1].country")
    assert "items 1 differ" in err["message"]
    order = await api.ok("POST", "/v1/orders", {"reference": "y", "items": [{"amount": 1000, "country": "US"}]})
    other = Api(http(app), await factories.tenant(rt))
    r = await other.client.get(f"/v1/orders/{order['id']}/links", headers=other.headers)
    expect_error(r, 404, "not_found", "order")
    r = await api.client.get(f"/v1/orders/{order['id']}/links?cursor=abc", headers=api.headers)
    expect_error(r, 422, "validation_error", "cursor")


async def test_the_dashboard_shows_a_choice_order(rt, app_client):
    from tests.functional.web.test_dashboard_pages import _as

    t = await factories.buyer(rt, funds=100_000)
    owner = await factories.user(rt, t.account_id, role="owner")
    api = Api(app_client, t)
    body = {"reference": "dash-choice", "items": [{"amount": 2000, "quantity": 2, "country": "US"}]}
    order = await api.ok("POST", "/v1/orders", body)
    http = await _as(app_client, owner)
    page = await http.get(f"/dashboard/orders/{order['id']}")
    assert page.status_code == 200, page.text
    assert "Choice of acme-usd" in page.text
    assert "None" not in page.text


async def test_an_expired_or_unknown_link_shows_nothing(make_app, clock):
    from datetime import timedelta

    app = make_app(public_url="http://testserver")
    rt, api = await setup(app)
    rx = Receiver().start()
    hook = {"url": rx.url("/hooks"), "events": ["reward.expired"]}
    await api.post("/v1/webhook-endpoints", hook, status=201)
    ends = (clock.now + timedelta(hours=1)).isoformat()
    body = {"reference": "soon", "items": [{"amount": 2500, "choice": {"products": ["books-usd"], "expires_at": ends}}]}
    order = await api.ok("POST", "/v1/orders", body)
    (link,) = (await api.ok("GET", f"/v1/orders/{order['id']}/links"))["data"]
    path = link["link"].replace("http://testserver", "")
    async with http(app) as browser:
        shown = await browser.get(path)
        csrf = CSRF.search(shown.text).group(1)
        clock.advance(hours=2)
        assert (await browser.get(path)).status_code == 410
        late = await browser.post(
            f"{path}/pick", data={"csrf": csrf, "pick_key": "0", "product": "books-usd", "amount": "25"}
        )
        assert late.status_code == 410
        assert (await browser.get("/r/" + "x" * 43)).status_code == 404
    # Past the date and before the sweep: nothing spent; the sweep then makes it breakage.
    (link,) = (await api.ok("GET", f"/v1/orders/{order['id']}/links"))["data"]
    assert (link["status"], link["unspent_balance"]) == ("active", 2500)
    from giftwell.services import sweep

    await sweep.sweep_once(rt)
    (link,) = (await api.ok("GET", f"/v1/orders/{order['id']}/links"))["data"]
    assert (link["status"], link["unspent_balance"]) == ("expired", 0)
    expired = [d for t, d in await events(rt, "reward.expired")]
    assert expired[0]["breakage"] == 2500
    # The buyer subscribed to `reward.expired`: its endpoint is told.
    await work(app)
    rx.stop()
    (told,) = [r.json() for r in rx.by_path("/hooks")]
    assert (told["type"], told["data"]["breakage"]) == ("reward.expired", 2500)
    await assert_ledger_ok(rt)


async def test_value_on_unpicked_links_is_the_operators_liability(make_app, clock):
    """The operator's issuance funds a link, so the operator's liability report carries its
    unspent value apart from the cards (`links`), at any instant; a pick moves it onto a card."""
    from giftwell.services.access import accounts
    from giftwell.services.reports import liability

    app = make_app(public_url="http://testserver")
    rt, api = await setup(app)
    rx = Receiver().start()
    await api.post("/v1/webhook-endpoints", {"url": rx.url("/hooks"), "events": ["reward.picked"]}, status=201)
    before = clock.now
    clock.advance(seconds=1)
    body = {"reference": "owed-1", "items": [{"amount": 6000, "choice": {"products": ["books-usd"]}}]}
    order = await api.ok("POST", "/v1/orders", body)
    clock.advance(seconds=1)
    ordered = clock.now

    async def owed(account_id: str, at=None) -> list[tuple[str, int, int, int, int]]:
        async with rt.reader() as uow:
            found = await liability.liability(uow, account_id=account_id, as_of=at)
        return [(o.currency, o.amount, o.cards, o.links, o.link_count) for o in found.data]

    async with rt.reader() as uow:
        operator = (await accounts.operator_account(uow)).id
    assert await owed(operator) == [("USD", 0, 0, 6000, 1)]
    assert await owed(operator, before) == []
    assert await owed(api.tenant.account_id) == []  # the buyer holds the link; it owes nothing

    (link,) = (await api.ok("GET", f"/v1/orders/{order['id']}/links"))["data"]
    path = link["link"].replace("http://testserver", "")
    clock.advance(seconds=1)
    async with http(app) as browser:
        shown = await browser.get(path)
        form = {
            "csrf": CSRF.search(shown.text).group(1),
            "pick_key": KEY.search(shown.text).group(1),
            "product": "books-usd",
            "amount": "25",
        }
        assert (await browser.post(f"{path}/pick", data=form)).status_code == 303
    assert await owed(operator) == [("USD", 2500, 1, 3500, 1)]
    assert await owed(operator, ordered) == [("USD", 0, 0, 6000, 1)]
    report = await api.ok("GET", "/v1/reports/liability")  # the buyer's, through the API
    assert report["data"] == []
    # The buyer subscribed to `reward.picked`: its endpoint is told what was picked and what is left.
    await work(app)
    rx.stop()
    (told,) = [r.json() for r in rx.by_path("/hooks")]
    assert told["type"] == "reward.picked"
    assert (told["data"]["amount"], told["data"]["unspent"], told["data"]["order"]) == (2500, 3500, order["id"])
    await assert_ledger_ok(rt)


async def test_a_choice_link_sent_by_sms(make_app):
    """A choice item with `delivery.channel: sms` texts the link to the recipient's phone through
    the SMS gateway; the link opens on its page, and its deliveries list says sent."""
    from tests.peers import twilio_gateway

    with twilio_gateway() as gw:
        app = make_app(sms_url=gw.url, sms_from="+15550009999", public_url="http://testserver")
        rt, api = await setup(app)
        item = {
            "amount": 6000,
            "choice": {"products": ["books-usd", "music-usd"]},
            "recipient": {"name": "Ada", "phone": "+1 (555) 010-0123"},
            "sender": {"name": "Grace"},
            "delivery": {"channel": "sms"},
        }
        order = await api.ok("POST", "/v1/orders", {"reference": "choice-sms", "items": [item]})
        (link,) = (await api.ok("GET", f"/v1/orders/{order['id']}/links"))["data"]
        assert await work(app) == 1
        [req] = gw.requests
        assert req["form"]["To"] == "+15550100123"
        body = req["form"]["Body"]
        assert body.startswith("Grace sent you a $60.00 gift to spend on gift cards of your choice.")
        assert LINK.findall(body) == [link["link"]]
        async with http(app) as browser:
            page = await browser.get(link["link"].replace("http://testserver", ""))
        assert page.status_code == 200
        assert "Books" in page.text
        from giftwell.services.delivery import choice_sending

        async with rt.reader() as uow:
            sent = await choice_sending.for_links(uow, [link["id"]])
        assert [(d.to, d.status.value, d.attempts) for d in sent[link["id"]]] == [("+15550100123", "sent", 1)]
