"""The dashboard's audit log, signing keys and product designs over HTTP, on both databases:
what each role of the operator and of a business sees, every action refused to a viewer (no
button, a forged post a 403) and to a business (the operator's forms are a 404), bad input a 422
naming the field, the CSV export of the filtered log, and a key registered from the dashboard
signing real Wpay requests until it is revoked."""

from __future__ import annotations

import csv
import io
import re

import httpx

from giftwell.services.access import accounts
from giftwell.services.runtime import Runtime
from giftwell.web import audit as web_audit
from tests import factories
from tests.functional.dialects.wpay.support import ORDERS, Wpay
from tests.functional.web.test_web_pages import csrf_of, sign_in
from tests.signing import KeyPair, SigningClient

POST_FORM = re.compile(r'<form method="post" action="([^"]+)"')
KEYS = "/dashboard/developers/signing-keys"


async def _as(http: httpx.AsyncClient, user) -> str:
    """Signed in as `user`; the session's CSRF token."""
    http.cookies.clear()
    r = await sign_in(http, user.email, next_url="/dashboard")
    assert r.status_code == 303, r.text
    return csrf_of((await http.get("/dashboard")).text)


async def _world(rt: Runtime) -> dict:
    await factories.buyer(rt, funds=0)
    async with rt.reader() as uow:
        op = (await accounts.operator_account(uow)).id
    shop = await factories.tenant(rt, name="Acme Rewards")
    other = await factories.tenant(rt, name="Other Shop")
    return {
        "op": op,
        "shop": shop,
        "other": other,
        "op_owner": await factories.user(rt, op, role="owner"),
        "op_viewer": await factories.user(rt, op, role="viewer"),
        "shop_owner": await factories.user(rt, shop.account_id, role="owner"),
        "shop_viewer": await factories.user(rt, shop.account_id, role="viewer"),
    }


async def test_the_audit_log_page_filters_pages_and_exports(rt, app_client, monkeypatch):
    w = await _world(rt)
    http = app_client
    # Administrative actions on two accounts, through the API (recorded with the token as actor).
    for t in (w["shop"], w["other"]):
        card = (await http.post("/v1/cards", json={"currency": "EUR", "amount": 1000}, headers=t.headers)).json()
        r = await http.post(f"/v1/cards/{card['id']}/block", json={"reason": "=HYPERLINK(1)"}, headers=t.headers)
        assert r.status_code == 200, r.text

    # The operator sees every account's, names the accounts, and filters.
    await _as(http, w["op_owner"])
    page = await http.get("/dashboard/audit")
    assert page.status_code == 200, page.text
    assert 'aria-current="page"' in page.text
    assert page.text.count("<code>card.blocked</code>") == 2
    assert "Acme Rewards" in page.text
    assert "Other Shop" in page.text
    page = await http.get("/dashboard/audit", params={"account": w["shop"].account_id, "action": "card.*"})
    assert page.text.count("<code>card.blocked</code>") == 1
    assert "Other Shop</td>" not in page.text
    export = await http.get("/dashboard/audit.csv", params={"account": w["shop"].account_id, "action": "card.*"})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [r["action"] for r in rows] == ["card.blocked"]
    assert {r["account_id"] for r in rows} == {w["shop"].account_id}
    assert rows[0]["actor_type"] == "token"
    assert "'" + "=HYPERLINK" not in export.text  # the reason sits inside the JSON cell
    assert '"reason": "=HYPERLINK(1)"' in rows[0]["changes"]
    dated = await http.get("/dashboard/audit", params={"from": "2000-01-01", "to": "2999-12-31"})
    assert dated.status_code == 200
    assert dated.text.count("<code>card.blocked</code>") == 2
    # Paging (one a page): the next link keeps the filters and reaches every event once.
    monkeypatch.setattr(web_audit, "PAGE_SIZE", 1)
    url, seen = "/dashboard/audit?action=card.%2A", []
    while url:
        page = await http.get(url.replace("&amp;", "&"))
        assert page.status_code == 200, page.text[:300]
        rows = re.findall(r"<code>(card\.\w+)</code></td>\s*<td>card <code>(card_\w+)</code>", page.text)
        assert len(rows) == 1, page.text[-3000:]
        seen += rows
        found = re.findall(r'<a href="([^"]+)" rel="next">', page.text)
        url = found[0] if found else ""
    assert len(seen) == 2  # one a page, each card's block once
    assert len({card for _, card in seen}) == 2

    # Bad filters are a 422 naming the field, never a 500; a forged cursor too.
    for params, words in (
        ({"from": "yesterday"}, "from must be a date"),
        ({"action": "x" * 61}, "action is at most 60"),
        ({"cursor": "forged"}, "cursor"),
    ):
        r = await http.get("/dashboard/audit", params=params)
        assert r.status_code == 422, (params, r.text[:300])
        assert words in r.text, params
    r = await http.get("/dashboard/audit.csv", params={"to": "2026-13-01"})
    assert r.status_code == 422
    assert "to must be a date" in r.text

    # A business's owner sees its own log only, and cannot ask for another account's.
    await _as(http, w["shop_owner"])
    page = await http.get("/dashboard/audit")
    assert page.text.count("<code>card.blocked</code>") == 1
    assert 'id="f-account"' not in page.text
    export = await http.get("/dashboard/audit.csv")
    assert {r["account_id"] for r in csv.DictReader(io.StringIO(export.text))} == {w["shop"].account_id}
    r = await http.get("/dashboard/audit", params={"account": w["other"].account_id})
    assert r.status_code == 422
    assert "only the operator" in r.text

    # Viewers do not read it (their tokens never hold audit:read), and see no link to it.
    for who in ("shop_viewer", "op_viewer"):
        await _as(http, w[who])
        assert 'href="/dashboard/audit"' not in (await http.get("/dashboard")).text
        for path in ("/dashboard/audit", "/dashboard/audit.csv"):
            r = await http.get(path)
            assert r.status_code == 403, (who, path)
            assert "viewer" in r.text


async def test_signing_keys_from_the_dashboard_sign_wpay_requests_until_revoked(rt, app_client):
    w = await _world(rt)
    http = app_client
    csrf = await _as(http, w["op_owner"])
    shop = w["shop"].account_id
    page = await http.get(KEYS, params={"account": shop})
    assert page.status_code == 200
    assert "No signing keys for this account" in page.text
    assert f'<option value="{shop}" selected>' in page.text

    pair, second, third = KeyPair(), KeyPair(), KeyPair()
    # What a pasted key may not be: each refusal names the problem, and the form keeps its values.
    r = await http.post(KEYS, data={"csrf": csrf, "account": shop, "kid": "k1", "public_key": pair.private_pem})
    assert r.status_code == 422
    assert "this is a private key" in r.text
    assert pair.private_pem.splitlines()[1] not in r.text  # a pasted private key is not shown back
    for form, words in (
        ({"kid": "k1", "public_key": "not a key"}, "PEM public key"),
        ({"kid": "has space", "public_key": pair.public_pem}, "kid"),
        ({"kid": "k1", "public_key": pair.public_pem, "scopes": "admin"}, "operator scope"),
        ({"kid": "k1", "public_key": pair.public_pem, "scopes": "nope:read"}, "nope:read"),
    ):
        r = await http.post(KEYS, data={"csrf": csrf, "account": shop, **form})
        assert r.status_code == 422, (form, r.text[:300])
        assert words in r.text, (form, words)
    assert 'value="k1"' in r.text  # the form keeps what was typed
    r = await http.post(KEYS, data={"csrf": csrf, "account": "acct_nope", "kid": "k1", "public_key": pair.public_pem})
    assert r.status_code == 422
    assert "no such account" in r.text

    r = await http.post(
        KEYS, data={"csrf": csrf, "account": shop, "kid": "acme-2026", "public_key": pair.public_pem, "name": "Till"}
    )
    assert r.status_code == 303, r.text
    page = await http.get(r.headers["location"])
    assert "Key registered." in page.text
    (client_id,) = set(re.findall(r"apiClientId <code>([0-9a-f-]{36})</code>", page.text))
    assert "acme-2026" in page.text
    assert "Till" in page.text

    # The key signs the Wpay dialect's requests for the account.
    signer = SigningClient(client_id, "acme-2026", pair, shop)
    wp = Wpay(http, rt, signer)
    r = await wp.call("GET", f"{ORDERS}/none-such")
    assert (r.status_code, r.json()["errorCode"]) == (404, "5318"), r.text

    # A rotation: a second key of the same client; a third active one is refused.
    r = await http.post(
        KEYS,
        data={
            "csrf": csrf,
            "account": shop,
            "kid": "acme-2027",
            "public_key": second.public_pem,
            "api_client_id": client_id,
        },
    )
    assert r.status_code == 303, r.text
    r = await http.post(
        KEYS,
        data={
            "csrf": csrf,
            "account": shop,
            "kid": "acme-2028",
            "public_key": third.public_pem,
            "api_client_id": client_id,
        },
    )
    assert r.status_code == 422
    assert "already has 2 active keys" in r.text
    r = await http.post(KEYS, data={"csrf": csrf, "account": shop, "kid": "acme-2026", "public_key": third.public_pem})
    assert r.status_code == 422
    assert "already registered" in r.text

    # The business sees its keys, read-only; another business sees none of them.
    csrf_shop = await _as(http, w["shop_owner"])
    page = await http.get(KEYS, params={"account": w["other"].account_id})
    assert "acme-2026" in page.text
    assert "acme-2027" in page.text
    assert POST_FORM.findall(page.text) == ["/logout"]
    r = await http.post(KEYS, data={"csrf": csrf_shop, "account": shop, "kid": "mine", "public_key": third.public_pem})
    assert r.status_code == 404
    r = await http.post(f"{KEYS}/acme-2026/revoke", data={"csrf": csrf_shop, "account": shop})
    assert r.status_code == 404
    await _as(http, await factories.user(rt, w["other"].account_id, role="owner"))
    assert "acme-2026" not in (await http.get(KEYS)).text

    # The operator's viewer sees, has no button, and a forged revoke changes nothing.
    csrf_viewer = await _as(http, w["op_viewer"])
    page = await http.get(KEYS, params={"account": shop})
    assert "acme-2026" in page.text
    assert POST_FORM.findall(page.text) == ["/logout"]
    r = await http.post(f"{KEYS}/acme-2026/revoke", data={"csrf": csrf_viewer, "account": shop})
    assert r.status_code == 403
    assert (await wp.call("GET", f"{ORDERS}/none-such")).status_code == 404

    # The operator revokes: the key's tokens are refused from then on; the other key still signs.
    csrf = await _as(http, w["op_owner"])
    r = await http.post(f"{KEYS}/acme-2026/revoke", data={"csrf": csrf, "account": shop})
    assert r.status_code == 303, r.text
    page = await http.get(r.headers["location"])
    assert "Revoked." in page.text
    assert page.text.count('action="/dashboard/developers/signing-keys/acme-20') == 1  # only acme-2027's
    r = await wp.call("GET", f"{ORDERS}/none-such")
    assert (r.status_code, r.json()["errorCode"]) == (401, "AP01"), r.text
    wp2 = Wpay(http, rt, SigningClient(client_id, "acme-2027", second, shop))
    assert (await wp2.call("GET", f"{ORDERS}/none-such")).status_code == 404
    r = await http.post(f"{KEYS}/nope/revoke", data={"csrf": csrf, "account": shop})
    assert r.status_code == 422
    assert "no such key" in r.text
    # Without the CSRF token, or from another origin: refused.
    assert (await http.post(f"{KEYS}/acme-2027/revoke", data={"account": shop})).status_code == 403
    r = await http.post(
        f"{KEYS}/acme-2027/revoke", data={"csrf": csrf, "account": shop}, headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403
    # Each action is in the audit log, with the dashboard user as the actor.
    log = await http.get("/dashboard/audit", params={"action": "signing_key.*"})
    assert log.text.count("<code>signing_key.added</code>") == 2
    assert log.text.count("<code>signing_key.revoked</code>") == 1
    assert f"user <code>{w['op_owner'].id}</code>" in log.text


async def test_product_designs_are_added_and_removed_from_the_catalog(rt, app_client):
    w = await _world(rt)
    http = app_client
    product = factories.PRODUCT["id"]
    path = f"/dashboard/catalog/{product}"
    csrf = await _as(http, w["op_owner"])
    assert f'href="{path}"' in (await http.get("/dashboard/catalog")).text
    page = await http.get(path)
    assert page.status_code == 200
    assert "No designs" in page.text
    assert (await http.get("/dashboard/catalog/no-such-product")).status_code == 404

    design = {"design_id": "WWQ912SWAP01", "name": "Swap and save", "image_url": "https://images.example/swap.png"}
    r = await http.post(f"{path}/designs", data={"csrf": csrf, **design})
    assert r.status_code == 303, r.text
    page = await http.get(r.headers["location"])
    assert "Saved." in page.text
    assert "<code>WWQ912SWAP01</code>" in page.text
    assert "Swap and save" in page.text
    # The API's product carries it: the Wpay dialect's designId resolves against it.
    api = await http.get(f"/v1/products/{product}", headers=w["shop"].headers)
    assert api.json()["designs"] == [
        {"id": "WWQ912SWAP01", "name": "Swap and save", "image_url": "https://images.example/swap.png"}
    ]
    # A second id adds one; the same id replaces it where it stands.
    r = await http.post(f"{path}/designs", data={"csrf": csrf, **design, "design_id": "B2"})
    assert r.status_code == 303
    r = await http.post(f"{path}/designs", data={"csrf": csrf, **design, "name": "Swap and save more"})
    assert r.status_code == 303
    api = await http.get(f"/v1/products/{product}", headers=w["shop"].headers)
    assert [(d["id"], d["name"]) for d in api.json()["designs"]] == [
        ("WWQ912SWAP01", "Swap and save more"),
        ("B2", "Swap and save"),
    ]
    # Bad designs are refused naming the field; the form keeps what was typed.
    for changes, words in (
        ({"image_url": "javascript:alert(1)"}, "design image_url must be an http(s) URL"),
        ({"design_id": "has space"}, "design id must be 1 to 64"),
        ({"name": ""}, "design name must be 1 to 200"),
    ):
        r = await http.post(f"{path}/designs", data={"csrf": csrf, **design, **changes})
        assert r.status_code == 422, (changes, r.text[:300])
        assert words in r.text, (changes, r.text[:2000])
    assert 'value="has space"' not in r.text  # the last one kept its own values
    assert 'value="Swap and save"' not in r.text

    # Removing one; removing it again names the problem.
    r = await http.post(f"{path}/designs/B2/remove", data={"csrf": csrf})
    assert r.status_code == 303
    r = await http.post(f"{path}/designs/B2/remove", data={"csrf": csrf})
    assert r.status_code == 422
    assert "no such design" in r.text
    api = await http.get(f"/v1/products/{product}", headers=w["shop"].headers)
    assert [d["id"] for d in api.json()["designs"]] == ["WWQ912SWAP01"]
    log = await http.get("/dashboard/audit", params={"action": "product.updated"})
    assert log.text.count("<code>product.updated</code>") == 4

    # The operator's viewer: no buttons, a forged post refused; a business: no such page.
    csrf_viewer = await _as(http, w["op_viewer"])
    page = await http.get(path)
    assert "WWQ912SWAP01" in page.text
    assert POST_FORM.findall(page.text) == ["/logout"]
    r = await http.post(f"{path}/designs/WWQ912SWAP01/remove", data={"csrf": csrf_viewer})
    assert r.status_code == 403
    csrf_shop = await _as(http, w["shop_owner"])
    assert (await http.get(path)).status_code == 404
    r = await http.post(f"{path}/designs", data={"csrf": csrf_shop, **design, "design_id": "mine"})
    assert r.status_code == 404
    api = await http.get(f"/v1/products/{product}", headers=w["shop"].headers)
    assert [d["id"] for d in api.json()["designs"]] == ["WWQ912SWAP01"]


async def test_a_product_expiry_policy_set_from_its_page_refuses_short_lived_cards(rt, app_client):
    w = await _world(rt)
    http = app_client
    product = factories.PRODUCT["id"]  # its cards live 24 months
    path = f"/dashboard/catalog/{product}"
    await factories.fund(rt, w["shop"].account_id, 10_000)
    order = {"reference": "policy-page", "items": [{"product": product, "amount": 1000}]}
    csrf = await _as(http, w["op_owner"])
    for form, words in (
        ({"min_days": "ten", "rule": "x"}, "whole number of days"),
        ({"min_days": "1826", "rule": ""}, "must name the rule"),
        ({"min_days": "0", "rule": "x"}, "min_days must be 1 to"),
    ):
        r = await http.post(f"{path}/expiry-policy", data={"csrf": csrf, **form})
        assert r.status_code == 422, (form, r.text[:300])
        assert words in r.text, form
    r = await http.post(
        f"{path}/expiry-policy", data={"csrf": csrf, "min_days": "1826", "rule": "US CARD Act: 5 years"}
    )
    assert r.status_code == 303, r.text
    assert "at least <strong>1826 days</strong> from issue (US CARD Act: 5 years)" in (await http.get(path)).text
    r = await http.post("/v1/orders", json=order, headers=w["shop"].headers)
    assert r.status_code == 422, r.text
    assert "US CARD Act: 5 years" in r.json()["error"]["message"]
    # Emptied, the policy is gone and the order goes through.
    r = await http.post(f"{path}/expiry-policy", data={"csrf": csrf, "min_days": "", "rule": ""})
    assert r.status_code == 303
    assert "No policy of its own" in (await http.get(path)).text
    r = await http.post("/v1/orders", json=order, headers=w["shop"].headers)
    assert r.status_code in (200, 201), r.text
    # Not for a viewer, nor for a business.
    csrf = await _as(http, w["op_viewer"])
    r = await http.post(f"{path}/expiry-policy", data={"csrf": csrf, "min_days": "10", "rule": "x"})
    assert r.status_code == 403
    csrf = await _as(http, w["shop_owner"])
    r = await http.post(f"{path}/expiry-policy", data={"csrf": csrf, "min_days": "10", "rule": "x"})
    assert r.status_code == 404
    api = await http.get(f"/v1/products/{product}", headers=w["shop"].headers)
    assert api.json()["expiry_policy"] is None
    # The account's own policy, from the reports page (the same form and checks).
    r = await http.post("/dashboard/reports/expiry-policy", data={"csrf": csrf, "min_days": "ten", "rule": "x"})
    assert r.status_code == 422
    assert "whole number of days" in r.text
    r = await http.post(
        "/dashboard/reports/expiry-policy", data={"csrf": csrf, "min_days": "400", "rule": "House rule"}
    )
    assert r.status_code == 303
    assert "at least <strong>400 days</strong> from issue (House rule)" in (await http.get("/dashboard/reports")).text
