"""The dashboard over HTTP (no browser), on both databases: every page for each role, the
viewer's missing buttons and refused forged posts, CSRF and Origin on every form, operator pages,
the browser 404, and no page ever showing a code but the one-time reveal."""

from __future__ import annotations

import csv
import io
import re

import httpx

from giftwell.services.funding import receipts
from giftwell.services.orders import placing
from giftwell.services.runtime import Runtime
from tests import factories
from tests.functional.web.test_web_pages import csrf_of, sign_in

PAGES = [
    "/dashboard",
    "/dashboard/cards",
    "/dashboard/cards/new",
    "/dashboard/orders",
    "/dashboard/orders/new",
    "/dashboard/funding",
    "/dashboard/reports",
    "/dashboard/developers",
    "/dashboard/developers/tokens",
    "/dashboard/developers/webhooks",
    "/dashboard/developers/events",
    "/dashboard/team",
]
POST_FORM = re.compile(r'<form method="post" action="([^"]+)"')


async def _shop(rt: Runtime) -> dict:
    """An operator with a product, and a funded buyer with an owner, a viewer, a card, an order,
    a webhook endpoint (so an event and a delivery exist)."""
    t = await factories.buyer(rt)
    owner = await factories.user(rt, t.account_id, role="owner")
    viewer = await factories.user(rt, t.account_id, role="viewer")
    card = await factories.card(rt, t.account_id, currency="USD", amount=2500)
    endpoint, _ = await factories.webhook_endpoint(rt, t.account_id, "https://hooks.example/gw")
    item = placing.ItemRequest(product=factories.PRODUCT["id"], amount=1000, quantity=2)
    order = await rt.transact(
        lambda uow: placing.place_order(uow, account_id=t.account_id, req=placing.OrderRequest("dash-1", [item]))
    )
    codes = [c.code for i in order.items or [] for c in i.cards]
    async with rt.reader() as uow:
        (receipt,) = (await receipts.list_receipts(uow, account_id=t.account_id, order_id=order.id)).data
    return {
        "t": t,
        "owner": owner,
        "viewer": viewer,
        "card": card,
        "endpoint": endpoint,
        "order": order.id,
        "order_codes": codes,
        "receipt": receipt.id,
    }


async def _as(app_client: httpx.AsyncClient, user) -> httpx.AsyncClient:
    app_client.cookies.clear()
    r = await sign_in(app_client, user.email, next_url="/dashboard")
    assert r.status_code == 303, r.text
    return app_client


def _pages(shop: dict) -> list[str]:
    return [
        *PAGES,
        f"/dashboard/cards/{shop['card'].card.id}",
        f"/dashboard/developers/webhooks/{shop['endpoint']}",
        f"/dashboard/orders/{shop['order']}",
    ]


async def test_every_page_for_the_owner_and_the_viewer_and_no_page_shows_a_code(rt, app_client):
    shop = await _shop(rt)
    code = shop["card"].code
    assert len(shop["order_codes"]) == 2
    assert all(shop["order_codes"])
    http = await _as(app_client, shop["owner"])
    actions_seen = set()
    for path in _pages(shop):
        r = await http.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert 'aria-current="page"' in r.text, path
        assert re.search(r"<title>[^<]+ · Giftwell</title>", r.text), path
        assert code not in r.text, path
        assert code.replace("-", "") not in r.text, path
        for shown in shop["order_codes"]:
            assert shown not in r.text, path
        actions_seen |= set(POST_FORM.findall(r.text))
        assert all(re.findall(r'name="csrf" value="([^"]*)"', r.text)), f"{path}: a form without its CSRF token"
    assert len(actions_seen) > 15, actions_seen  # the owner has buttons
    order = await http.get(f"/dashboard/orders/{shop['order']}")
    assert order.text.count("<tr>") >= 3  # the two cards, a page of them
    receipt = await http.get(f"/dashboard/funding/receipts/{shop['receipt']}")
    assert receipt.status_code == 200
    assert "$19.50" in receipt.text or "19.50" in receipt.text

    http = await _as(app_client, shop["viewer"])
    for path in _pages(shop):
        r = await http.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert POST_FORM.findall(r.text) == ["/logout"], (path, POST_FORM.findall(r.text))
    assert (await http.get("/dashboard/clients")).status_code == 403


async def test_a_viewer_cannot_act_even_by_forging_the_post(rt, app_client):
    shop = await _shop(rt)
    card_id = shop["card"].card.id
    http = await _as(app_client, shop["viewer"])
    csrf = csrf_of((await http.get("/dashboard")).text)
    forged = {
        f"/dashboard/cards/{card_id}/redeem": {"amount": "1.00"},
        f"/dashboard/cards/{card_id}/disable": {},
        "/dashboard/cards": {"currency": "USD", "amount": "5.00"},
        "/dashboard/orders": {"product": factories.PRODUCT["id"], "amount": "10.00"},
        "/dashboard/developers/tokens": {"name": "x", "scopes": "cards:read"},
        "/dashboard/developers/webhooks": {"url": "https://hooks.example/x"},
        f"/dashboard/developers/webhooks/{shop['endpoint']}/rotate": {},
        "/dashboard/team/invite": {"email": "mallory@example.com", "role": "owner"},
        f"/dashboard/team/{shop['owner'].id}/remove": {},
        "/dashboard/reports/expiry-policy": {"min_days": "10", "rule": "x"},
    }
    for path, data in forged.items():
        r = await http.post(path, data={**data, "csrf": csrf})
        assert r.status_code == 403, (path, r.status_code)
        assert "viewer" in r.text, path
    card = await http.get(f"/dashboard/cards/{card_id}")
    assert "$25.00" in card.text
    assert "active" in card.text

    owner = await _as(app_client, shop["owner"])
    csrf = csrf_of((await owner.get("/dashboard")).text)
    path = f"/dashboard/cards/{card_id}/redeem"
    assert (await owner.post(path, data={"amount": "1.00"})).status_code == 403  # no token
    assert (await owner.post(path, data={"amount": "1.00", "csrf": "forged"})).status_code == 403
    r = await owner.post(path, data={"amount": "1.00", "csrf": csrf}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    r = await owner.post(path, data={"amount": "1.00", "csrf": csrf})
    assert r.status_code == 303, r.text
    assert "$24.00" in (await owner.get(r.headers["location"])).text


async def test_issue_shows_the_code_once_and_exports_never_do(rt, app_client):
    shop = await _shop(rt)
    http = await _as(app_client, shop["owner"])
    csrf = csrf_of((await http.get("/dashboard/cards/new")).text)
    r = await http.post("/dashboard/cards", data={"csrf": csrf, "currency": "USD", "amount": "12.345"})
    assert r.status_code == 422
    assert "more decimal places" in r.text
    r = await http.post(
        "/dashboard/cards",
        data={"csrf": csrf, "currency": "USD", "amount": "12.50", "recipient_email": "rita@example.com", "send": "on"},
    )
    assert r.status_code == 201, r.text
    (code,) = re.findall(r'id="card-code">([^<]+)<', r.text)
    (card_id,) = re.findall(r'href="/dashboard/cards/(card_\w+)"', r.text)
    assert "rita@example.com: queued" in r.text or "rita@example.com: scheduled" in r.text
    page = await http.get(f"/dashboard/cards/{card_id}")
    assert code not in page.text
    assert code[-4:] in page.text
    export = await http.get("/dashboard/cards.csv", params={"email": "rita@example.com"})
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [row["id"] for row in rows] == [card_id]
    assert code not in export.text
    r = await http.post(f"/dashboard/cards/{card_id}/adjust", data={"csrf": csrf, "amount": "-1.00", "reason": ""})
    assert r.status_code == 422
    assert "needs a reason" in r.text


async def test_operator_pages_and_the_browser_404(rt, app_client):
    shop = await _shop(rt)
    http = await _as(app_client, shop["owner"])
    for path in ("/dashboard/catalog", "/dashboard/jobs"):
        r = await http.get(path)
        assert r.status_code == 404, path
        assert "Page not found" in r.text, path
    op = await factories.user(rt, (await _operator(rt)), role="owner")
    http = await _as(app_client, op)
    assert factories.PRODUCT["id"] in (await http.get("/dashboard/catalog")).text
    jobs_page = await http.get("/dashboard/jobs")
    assert jobs_page.status_code == 200
    assert "No worker has registered" in jobs_page.text
    # A worker's heartbeat and the queue's figures by kind are on the page.
    from giftwell.services.queue import jobs, workers

    await workers.beat(rt, "wk-page-1", role="worker", concurrency=4)
    async with rt.uow() as uow:
        await jobs.enqueue(uow, "page.check", {})
        await uow.commit()
    jobs_page = (await http.get("/dashboard/jobs")).text
    assert "Workers (1 alive)" in jobs_page
    assert "<code>wk-page-1</code>" in jobs_page
    assert "0 of 4" in jobs_page
    assert "<td>page.check</td><td>1</td><td>0</td><td>0</td>" in jobs_page
    page = await http.get("/dashboard/nowhere", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert 'href="/dashboard"' in page.text
    app_client.cookies.clear()
    anon = await app_client.get("/nowhere", headers={"Accept": "text/html,*/*"})
    assert anon.status_code == 404
    assert "Back to the dashboard" in anon.text
    api = await app_client.get("/v1/nowhere", headers={"Accept": "text/html"})
    assert api.json()["error"]["code"] == "not_found"
    assert (await app_client.get("/nowhere")).json()["error"]["message"] == "no such route"


async def _operator(rt: Runtime) -> str:
    from giftwell.services.access import accounts

    async with rt.reader() as uow:
        return (await accounts.operator_account(uow)).id


async def test_pages_need_a_session(app_client):
    for path in ("/dashboard", "/dashboard/cards/card_x", "/dashboard/team", "/dashboard/catalog"):
        r = await app_client.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login?next="), path


async def test_a_wizzgift_format_endpoint_is_registered_from_the_dashboard(rt, app_client):
    """Seed 000's users register webhooks "in the dashboard": the WizzGift format is offered,
    the secret shown once, and the endpoint is the API's, in that format."""
    shop = await _shop(rt)
    http = await _as(app_client, shop["owner"])
    page = await http.get("/dashboard/developers/webhooks")
    assert "<option>wizzgift</option>" in page.text
    csrf = csrf_of(page.text)
    form = {"csrf": csrf, "url": "https://hooks.example/wizz", "format": "wizzgift", "events": ["order.completed"]}
    made = await http.post("/dashboard/developers/webhooks", data=form)
    assert made.status_code == 201, made.text
    (secret,) = re.findall(r"whsec_[A-Za-z0-9+/=]+", made.text)
    again = await http.get("/dashboard/developers/webhooks")
    assert secret not in again.text
    listed = await app_client.get("/v1/webhook-endpoints", headers=shop["t"].headers)
    wizz = [e for e in listed.json()["data"] if e["url"] == "https://hooks.example/wizz"]
    assert [(e["format"], e["events"]) for e in wizz] == [("wizzgift", ["order.completed"])]


async def test_the_export_and_next_links_keep_filters_that_need_escaping(rt, app_client, monkeypatch):
    """An email with `+` and `&` in the search: the CSV link and the next page's link keep it
    exactly, instead of a space (or a broken query)."""
    from giftwell.domain.cards import Party
    from giftwell.web import cards as web_cards

    shop = await _shop(rt)
    email = "rita+gift&co@example.com"
    for amount in (100, 200):
        await factories.card(rt, shop["t"].account_id, currency="USD", amount=amount, recipient=Party(email=email))
    http = await _as(app_client, shop["owner"])
    page = await http.get("/dashboard/cards", params={"email": email})
    assert page.status_code == 200, page.text[:300]
    assert len(set(re.findall(r'href="/dashboard/cards/(card_\w+)"', page.text))) == 2
    (export,) = re.findall(r'<a href="(/dashboard/cards\.csv\?[^"]+)"', page.text)
    rows = list(csv.DictReader(io.StringIO((await http.get(export.replace("&amp;", "&"))).text)))
    assert [r["recipient_email"] for r in rows] == [email, email]

    monkeypatch.setattr(web_cards, "PAGE_SIZE", 1)
    first = await http.get("/dashboard/cards", params={"email": email})
    (next_url,) = re.findall(r'<a href="([^"]+)" rel="next">', first.text)
    second = await http.get(next_url.replace("&amp;", "&"))
    assert second.status_code == 200
    seen = [re.findall(r'href="/dashboard/cards/(card_\w+)"', p.text) for p in (first, second)]
    assert [len(s) for s in seen] == [1, 1]
    assert seen[0] != seen[1]
