"""The dashboard's webhook endpoints page: owners and admins register an endpoint in the native
or the WizzGift format, the secret is shown once, and the WizzGift endpoint then receives an
order placed through /api/b2b in the seed's body, signed as the seed's JavaScript checks it.
Both databases."""

from __future__ import annotations

import re

from tests import factories
from tests.functional.web.test_web_pages import csrf_of, sign_in
from tests.integration.webhook_support import drive
from tests.receivers import Receiver, node_verify


async def test_register_a_wizzgift_endpoint_from_the_dashboard(rt, clock, app_client, tmp_path):
    t = await factories.buyer(rt)
    viewer = await factories.user(rt, t.account_id, role="viewer")
    owner = await factories.user(rt, t.account_id, role="owner")
    await sign_in(app_client, viewer.email, next_url="/dashboard/webhooks")
    assert (await app_client.get("/dashboard/webhooks")).status_code == 403
    app_client.cookies.clear()
    signed_out = await app_client.get("/dashboard/webhooks")
    assert (signed_out.status_code, signed_out.headers["location"]) == (303, "/login?next=/dashboard/webhooks")

    await sign_in(app_client, owner.email, next_url="/dashboard/webhooks")
    page = await app_client.get("/dashboard/webhooks")
    assert page.status_code == 200
    assert "No webhook endpoints yet." in page.text
    rx = Receiver().start()
    try:
        form = {"csrf": csrf_of(page.text), "url": rx.url("/wizz"), "format": "wizzgift", "description": "orders"}
        refused = await app_client.post("/dashboard/webhooks", data={**form, "events": ["card.created"]})
        assert refused.status_code == 422
        assert "the wizzgift format carries only" in refused.text
        forged = await app_client.post("/dashboard/webhooks", data={**form, "csrf": "nope"})
        assert forged.status_code == 403
        made = await app_client.post("/dashboard/webhooks", data=form)
        assert made.status_code == 201, made.text
        secret = re.search(r'<code id="webhook-secret">(whsec_[^<]+)</code>', made.text).group(1)
        listed = await app_client.get("/dashboard/webhooks")
        assert rx.url("/wizz") in listed.text
        assert "wizzgift" in listed.text
        assert secret not in listed.text

        body = {
            "amount": 10,
            "referenceId": "dash-1",
            "quantity": 1,
            "productId": "acme-usd",
            "requiredInfoFromUser": [],
        }
        r = await app_client.post("/api/b2b/order", json=body, headers=t.headers)
        assert r.status_code == 200, r.text
        await drive(rt, clock)
        (got,) = rx.by_path("/wizz")
    finally:
        rx.stop()
    assert got.json()["referenceId"] == "dash-1"
    assert list(got.json()) == ["id", "referenceId", "status", "orderedQuantity", "redeemInfos"]
    assert node_verify([(got.body, got.headers["x-signature"], secret)], tmp_path) == [
        {"valid": True, "identical": True}
    ]
