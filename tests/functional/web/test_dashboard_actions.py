"""Every dashboard action that the other page tests only forge or leave out, posted by an owner
(or the operator) over HTTP on both databases, its effect read back through the API or the
services: a card's adjustment, block, unblock, resend and disable; an order cancelled with its
refund; a webhook endpoint's rotation, disable, enable and recovery; an event replayed; a personal
token revoked; a role changed and a user removed; products imported, deactivated and activated;
a dead job retried."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from giftwell.services.queue import jobs
from giftwell.store.models import Job
from tests import factories
from tests.functional.web.test_dashboard_pages import _as, _operator, _shop
from tests.functional.web.test_web_pages import csrf_of


async def _post(http, path: str, csrf: str, **data) -> object:
    r = await http.post(path, data={"csrf": csrf, **data})
    errors = re.findall(r"<div class=\"alert\"[^>]*><p>([^<]*)", r.text)
    assert r.status_code in (200, 201, 303), (path, r.status_code, errors)
    return r


async def test_card_order_and_developer_actions_take_effect(rt, app_client, clock):
    shop = await _shop(rt)
    t = shop["t"]
    http = await _as(app_client, shop["owner"])
    csrf = csrf_of((await http.get("/dashboard")).text)
    card = shop["card"].card.id
    path = f"/dashboard/cards/{card}"

    async def api_card() -> dict:
        return (await http.get(f"/v1/cards/{card}", headers=t.headers)).json()

    r = await _post(http, f"{path}/adjust", csrf, amount="1.00", reason="goodwill")
    assert "done=adjusted" in r.headers["location"]
    assert (await api_card())["balance"] == 2600
    await _post(http, f"{path}/block", csrf, reason="lost")
    assert (await api_card())["status"] == "blocked"
    await _post(http, f"{path}/unblock", csrf)
    assert (await api_card())["status"] == "active"
    # A card issued with its email is sent again, to another address.
    r = await _post(
        http, "/dashboard/cards", csrf, currency="USD", amount="5.00", recipient_email="rita@example.com", send="on"
    )
    (sent,) = re.findall(r'href="/dashboard/cards/(card_\w+)"', r.text)
    clock.advance(seconds=31)  # a resend waits 30 s after the last sending
    await _post(http, f"/dashboard/cards/{sent}/resend", csrf, to="again@example.com")
    assert "again@example.com" in (await http.get(f"/dashboard/cards/{sent}")).text
    # The card was issued without a message: its page sends it a first time.
    page = (await http.get(path)).text
    assert 'id="send-channel"' in page
    r = await http.post(f"{path}/resend", data={"csrf": csrf, "channel": "pigeon", "to": "x@example.com"})
    assert r.status_code == 422
    assert "channel must be one of email, sms" in r.text
    await _post(http, f"{path}/resend", csrf, channel="email", to="first@example.com")
    page = (await http.get(path)).text
    assert "first@example.com" in page
    assert 'id="send-channel"' not in page  # now it is "Send again"
    r = await http.post(f"{path}/explode", data={"csrf": csrf})
    assert r.status_code == 422
    assert "no such action" in r.text
    await _post(http, f"{path}/disable", csrf, reason="closed")
    assert (await api_card())["status"] == "disabled"

    # The order, cancelled with its refund to the buyer's balance.
    await _post(http, f"/dashboard/orders/{shop['order']}/cancel", csrf)
    order = (await http.get(f"/v1/orders/{shop['order']}", headers=t.headers)).json()
    assert (order["status"], order["charged"], order["refunded"]) == ("cancelled", 1950, 1950), order

    # The webhook endpoint: a rotation shows the new secret once; disable, enable, recover.
    endpoint = shop["endpoint"]
    ep_path = f"/dashboard/developers/webhooks/{endpoint}"
    r = await _post(http, f"{ep_path}/rotate", csrf)
    (secret,) = re.findall(r"whsec_[A-Za-z0-9+/=]+", r.text)
    assert secret not in (await http.get(ep_path)).text

    async def api_endpoint() -> dict:
        return (await http.get(f"/v1/webhook-endpoints/{endpoint}", headers=t.headers)).json()

    await _post(http, f"{ep_path}/disable", csrf)
    assert (await api_endpoint())["enabled"] is False
    await _post(http, f"{ep_path}/enable", csrf)
    assert (await api_endpoint())["enabled"] is True
    r = await _post(http, f"{ep_path}/recover", csrf, since="2000-01-01T00:00")
    assert "done=recovered" in r.headers["location"]
    r = await http.post(f"{ep_path}/recover", data={"csrf": csrf, "since": ""})
    assert r.status_code == 422
    assert "since is required" in r.text

    # An event replayed from the events list.
    events = (await http.get("/v1/events", headers=t.headers)).json()["data"]
    r = await _post(http, f"/dashboard/developers/events/{events[0]['id']}/replay", csrf)
    assert "done=replayed" in r.headers["location"]

    # A personal token made and revoked from the dashboard stops working.
    r = await _post(http, "/dashboard/developers/tokens", csrf, name="till", scopes="cards:read")
    (token,) = re.findall(r'id="new-token">([^<]+)<', r.text)
    assert (await http.get("/v1/ping", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    page = (await http.get("/dashboard/developers/tokens")).text
    (token_id,) = re.findall(
        r'action="/dashboard/developers/tokens/([^/"]+)/revoke"[^<]*<input[^>]*><button type="submit">Revoke'
        r'<span class="sr-only"> till</span>',
        page,
    )
    await _post(http, f"/dashboard/developers/tokens/{token_id}/revoke", csrf)
    assert (await http.get("/v1/ping", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_team_actions_take_effect(rt, app_client):
    shop = await _shop(rt)
    http = await _as(app_client, shop["owner"])
    csrf = csrf_of((await http.get("/dashboard/team")).text)
    viewer = shop["viewer"]
    await _post(http, f"/dashboard/team/{viewer.id}/role", csrf, role="admin")
    assert f"{viewer.email}" in (await http.get("/dashboard/team")).text
    http2 = await _as(app_client, viewer)
    assert "(admin" in (await http2.get("/dashboard")).text
    http = await _as(app_client, shop["owner"])
    csrf = csrf_of((await http.get("/dashboard/team")).text)
    await _post(http, f"/dashboard/team/{viewer.id}/remove", csrf)
    assert viewer.email not in (await http.get("/dashboard/team")).text
    r = await http.post(f"/dashboard/team/{shop['owner'].id}/remove", data={"csrf": csrf})
    assert r.status_code == 422
    assert "cannot remove yourself" in r.text


async def test_catalog_and_job_actions_take_effect(rt, app_client):
    shop = await _shop(rt)
    op = await factories.user(rt, await _operator(rt), role="owner")
    http = await _as(app_client, op)
    csrf = csrf_of((await http.get("/dashboard/catalog")).text)
    product = {**factories.PRODUCT, "id": "imported-eur", "name": "Imported", "currency": "EUR"}
    r = await http.post(
        "/dashboard/catalog/import",
        data={"csrf": csrf},
        files={"file": ("products.json", json.dumps([product]).encode(), "application/json")},
    )
    assert r.status_code == 303, r.text[:500]
    listed = (await http.get("/v1/products", headers=shop["t"].headers)).json()["data"]
    assert "imported-eur" in [p["id"] for p in listed]
    r = await http.post(
        "/dashboard/catalog/import",
        data={"csrf": csrf},
        files={"file": ("products.json", b"{not json", "application/json")},
    )
    assert r.status_code == 422
    assert "not JSON" in r.text
    await _post(http, "/dashboard/catalog/imported-eur/deactivate", csrf)
    listed = (await http.get("/v1/products", headers=shop["t"].headers)).json()["data"]
    assert "imported-eur" not in [p["id"] for p in listed]
    await _post(http, "/dashboard/catalog/imported-eur/activate", csrf)
    listed = (await http.get("/v1/products", headers=shop["t"].headers)).json()["data"]
    assert "imported-eur" in [p["id"] for p in listed]

    # A dead job, retried from the Jobs page, is queued again.
    async with rt.uow() as uow:
        job_id = await jobs.enqueue(uow, "test.nothing", {}, max_attempts=1)
        await uow.conn.execute(sa.update(Job).where(Job.id == job_id).values(state="dead", last_error="boom"))
        await uow.commit()
    page = await http.get("/dashboard/jobs")
    assert job_id in page.text
    assert "boom" in page.text
    await _post(http, f"/dashboard/jobs/{job_id}/retry", csrf)
    async with rt.reader() as uow:
        assert (await jobs.get(uow, job_id)).state == "queued"
    r = await http.post(f"/dashboard/jobs/{job_id}/retry", data={"csrf": csrf})
    assert r.status_code == 422


async def test_the_home_pages_orders_in_flight_link_lists_them(rt, app_client):
    """The home page counts pending and processing orders as in flight; its link lists exactly
    those (a background order waiting for the worker is pending, the completed one is not)."""
    from giftwell.domain.orders import Mode
    from giftwell.services.orders import placing

    shop = await _shop(rt)
    item = placing.ItemRequest(product=factories.PRODUCT["id"], amount=1000, quantity=1)
    req = placing.OrderRequest("in-flight-1", [item], mode=Mode.ASYNC)
    await rt.transact(lambda uow: placing.place_order(uow, account_id=shop["t"].account_id, req=req))
    http = await _as(app_client, shop["owner"])
    home = await http.get("/dashboard")
    assert "1 order in flight" in home.text
    (link,) = re.findall(r'<a href="([^"]+)">1 order in flight', home.text)
    listed = await http.get(link)
    assert listed.status_code == 200
    assert "in-flight-1" in listed.text
    assert "dash-1" not in listed.text
    assert "dash-1" in (await http.get("/dashboard/orders")).text
    r = await http.get("/dashboard/orders", params={"status": "nonsense"})
    assert r.status_code == 422


async def test_the_home_pages_failed_deliveries_link_lists_the_last_weeks(rt, app_client, clock):
    """The home page counts the deliveries that failed in the last 7 days; its link lists those
    cards, not one whose delivery failed before."""
    from datetime import timedelta

    from giftwell.store.models import Delivery

    shop = await _shop(rt)
    http = await _as(app_client, shop["owner"])
    csrf = csrf_of((await http.get("/dashboard")).text)
    made = []
    for to in ("old@example.com", "new@example.com"):
        r = await _post(http, "/dashboard/cards", csrf, currency="USD", amount="5.00", recipient_email=to, send="on")
        made += re.findall(r'href="/dashboard/cards/(card_\w+)"', r.text)
    old, new = made
    async with rt.uow() as uow:
        for card, when in ((old, clock() - timedelta(days=10)), (new, clock() - timedelta(hours=1))):
            await uow.conn.execute(
                sa.update(Delivery).where(Delivery.card_id == card).values(status="failed", updated_at=when)
            )
        await uow.commit()
    home = await http.get("/dashboard")
    (link,) = re.findall(r'<a href="([^"]+)">1 failed delivery \(7 days\)', home.text)
    listed = (await http.get(link.replace("&amp;", "&"))).text
    assert f"/dashboard/cards/{new}" in listed
    assert f"/dashboard/cards/{old}" not in listed
    every = (await http.get("/dashboard/cards", params={"delivery": "failed"})).text
    assert f"/dashboard/cards/{old}" in every
    export = await http.get(link.replace("&amp;", "&").replace("/dashboard/cards?", "/dashboard/cards.csv?"))
    assert [row.split(",")[0] for row in export.text.splitlines()[1:]] == [new]
    for bad in ("0", "x", "99999"):
        r = await http.get("/dashboard/cards", params={"delivery_days": bad})
        assert r.status_code == 422, bad
        assert "delivery_days must be a whole number" in r.text
