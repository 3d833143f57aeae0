"""Seed 000 (WizzGift B2B): every request and response example, replayed against the dialect and
compared field by field, JSON types included (numbers stay numbers, never strings). Values the
seed fixes (the scope string, the messages, the reference, the amount) are compared exactly; values
each server makes its own (tokens, ids, codes) by type.

The state each example implies is built first: a product `product_123456` with the three
required fields of the order example, cards made with a PIN and a serial (a supplier that sets
both, so every redeemInfos field is there), the two catalog examples as closely as our catalog
can say them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from giftwell.services.cards import issuing
from giftwell.services.catalog import suppliers
from tests import factories
from tests.functional.dialects.wizzgift.support import B2B, assert_same_shape, bearer, seed_tokens
from tests.integration.webhook_support import drive
from tests.receivers import Receiver, node_verify

TOKEN_REQUEST = {
    "grant_type": "authorization_code",
    "code": "auth_code_123456789abcdef",
    "client_id": "client_123456789abcdef",
    "client_secret": "cs_123456789abcdef123456789abcdef",
    "redirect_uri": "https://your-server.example.com/callback",
}
TOKEN_RESPONSE = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
    "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
    "token_type": "Bearer",
    "expires_in": 3600,
    "scope": "account createOrder",
}
REFRESH_REQUEST = {
    "grant_type": "refresh_token",
    "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
    "client_id": "client_123456789abcdef",
    "client_secret": "cs_123456789abcdef123456789abcdef",
}
REFRESH_RESPONSE = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
    "refresh_token": "NEW_eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
    "token_type": "Bearer",
    "expires_in": 3600,
    "refresh_token_expires_in": 2592000,
    "scope": "account createOrder",
}
ORDER_REQUEST = {
    "amount": 50,
    "referenceId": "order_12345",
    "quantity": 1,
    "productId": "product_123456",
    "requiredInfoFromUser": [
        {"id": "7FeXMgqYEgndkQVuG8n1", "value": "recipient@example.com"},
        {"id": "dN5TxW7Qez0IBkCc9Jnp", "value": "John Doe"},
        {"id": "kR9sP2mLxTyZaQvB5Wn3", "value": "Birthday"},
    ],
    "isTest": False,
}
ORDER_CREATED = {
    "success": True,
    "message": "Order created successfully",
    "data": {"id": "order_987654321", "referenceId": "order_12345"},
}
ORDER_RESPONSE = {
    "success": True,
    "data": {
        "id": "order_987654321",
        "referenceId": "order_12345",
        "amount": 50,
        "quantity": 1,
        "productId": "product_123456",
        "status": "completed",
        "orderedQuantity": 1,
        "redeemInfos": [
            {
                "link": "https://redeem.example.com/giftcard123",
                "rewardId": "reward_789",
                "instruction": "Follow the link and enter the code to redeem your gift card",
                "pin": "1234",
                "code": "ABCD-EFGH-IJKL-MNOP",
                "serial": "GC123456789",
                "transactionId": "tx_987654321",
                "expiryDate": "2025-12-31",
                "status": "completed",
            }
        ],
    },
}
PRODUCTS_RESPONSE = {
    "success": True,
    "data": [
        {
            "id": "paypal-usa",
            "description": "",
            "disclosure": "",
            "name": "PayPal USA Gift Card",
            "image": "https://wizzgiftt.s3.ap-south-1.amazonaws.com/dkb6VzOEVsMUdrR5pDH4r/normal.png",
            "skus": [{"min": 0.01, "max": 2000, "minCost": 0.0105, "changeStep": 0.1}],
            "currencyCode": "USD",
            "costCurrency": "USD",
            "countries": ["US"],
            "category": ["payments"],
            "requiredInfoFromUser": [],
        },
        {
            "id": "ntc-nepal",
            "name": "Nepal Telecom Refill",
            "description": " ",
            "image": "https://wizzgiftt.s3.ap-south-1.amazonaws.com/ntc-nepal/normal.png",
            "currencyCode": "NPR",
            "costCurrency": "NPR",
            "requiredInfoFromUser": [
                {
                    "id": "7FeXMgqYEgndkQVuG8n1",
                    "name": "mobile",
                    "type": "input",
                    "description": "phone",
                    "required": True,
                    "selectValues": [],
                }
            ],
            "skus": [{"min": 10, "max": 3000, "minCost": 10.5, "description": "NTC Topup"}],
            "category": ["topup"],
            "countries": ["NP"],
            "fee": 1,
        },
    ],
}
WEBHOOK_BODY = {
    "id": "order_987654321",
    "referenceId": "order_12345",
    "status": "completed",
    "orderedQuantity": 2,
    "redeemInfos": [
        {
            "link": "https://example.com/redeem/123",
            "rewardId": "reward-12345",
            "instruction": "This is instruction",
            "pin": "12345",
            "code": "1234556",
            "serial": "123serial",
            "transactionId": "Ref123transaction",
            "expiryDate": "2025-02-06",
            "status": "completed",
        },
        {
            "link": "https://example.com/redeem/456",
            "rewardId": "reward-67890",
            "instruction": "This is another instruction",
            "pin": "67890",
            "code": "6789010",
            "serial": "456serial",
            "transactionId": "Ref456transaction",
            "expiryDate": "2025-03-10",
            "status": "completed",
        },
    ],
}
ERROR_BODY = {"success": False, "message": "Message About the Error"}
INSTRUCTION = "Follow the link and enter the code to redeem your gift card"


class WithPinAndSerial:
    """House cards that also carry a PIN and a serial, as the seed's example card does."""

    async def issue(self, uow, req):
        issued = await issuing.issue(
            uow,
            account_id=req.issuer_account_id,
            currency=req.currency,
            amount=req.amount,
            pin=f"{1234 + req.index}",
            serial=f"GC{req.key.replace(':', '')[-12:]}".upper(),
            expires_at=req.expires_at,
            test=req.test,
        )
        return suppliers.SuppliedCard(issued.card.id, req.issuer_account_id)


@pytest.fixture
async def seeded(rt, monkeypatch):
    """A funded buyer, a WizzGift client's tokens, and the order example's product."""
    monkeypatch.setitem(suppliers.REGISTRY, "pin-and-serial", WithPinAndSerial())
    t = await factories.buyer(rt, funds=1_000_000)
    await factories.product(
        rt,
        id="product_123456",
        name="Example card",
        supplier="pin-and-serial",
        denominations={"min": 1000, "max": 20000},
        redemption_instructions=INSTRUCTION,
        required_fields=[
            {"id": "7FeXMgqYEgndkQVuG8n1", "name": "email", "description": "recipient email"},
            {"id": "dN5TxW7Qez0IBkCc9Jnp", "name": "name"},
            {"id": "kR9sP2mLxTyZaQvB5Wn3", "name": "occasion"},
        ],
    )
    return t


async def test_token_exchange_and_refresh(rt, app_client):
    t = await factories.tenant(rt)
    tok = await seed_tokens(app_client, rt, t.account_id, scopes=("account", "createOrder"))
    c = tok.pop("client")
    assert list(tok) == list(TOKEN_RESPONSE)
    assert_same_shape(tok, TOKEN_RESPONSE)
    assert {k: tok[k] for k in ("token_type", "expires_in", "scope")} == {
        k: TOKEN_RESPONSE[k] for k in ("token_type", "expires_in", "scope")
    }
    body = {
        **REFRESH_REQUEST,
        "refresh_token": tok["refresh_token"],
        "client_id": c.client.client_id,
        "client_secret": c.client_secret,
    }
    assert list(body) == list(REFRESH_REQUEST)
    r = await app_client.post(f"{B2B}/oauth/token", json=body)
    assert r.status_code == 200, r.text
    assert list(r.json()) == list(REFRESH_RESPONSE)
    assert_same_shape(r.json(), REFRESH_RESPONSE)
    fixed = ("token_type", "expires_in", "refresh_token_expires_in", "scope")
    assert {k: r.json()[k] for k in fixed} == {k: REFRESH_RESPONSE[k] for k in fixed}

    # The seed's request itself, with its made-up code and client: the seed's error envelope.
    r = await app_client.post(f"{B2B}/oauth/token", json=TOKEN_REQUEST)
    assert r.status_code == 401
    assert_same_shape(r.json(), ERROR_BODY)
    assert r.json()["success"] is False


async def test_create_and_get_order(rt, app_client, seeded):
    tok = await seed_tokens(app_client, rt, seeded.account_id)
    auth = bearer(tok["access_token"])
    r = await app_client.post(f"{B2B}/order", json=ORDER_REQUEST, headers=auth)
    assert r.status_code == 200, r.text
    created = r.json()
    assert_same_shape(created, ORDER_CREATED)
    assert created == {**ORDER_CREATED, "data": {**ORDER_CREATED["data"], "id": created["data"]["id"]}}
    order_id = created["data"]["id"]

    by_id = await app_client.get(f"{B2B}/order?id={order_id}", headers=auth)
    by_ref = await app_client.get(f"{B2B}/order?referenceId=order_12345", headers=auth)
    for r in (by_id, by_ref):
        assert r.status_code == 200, r.text
        got = r.json()
        assert_same_shape(got, ORDER_RESPONSE)
        data, seed = got["data"], ORDER_RESPONSE["data"]
        assert list(data) == list(seed)
        fixed = ("referenceId", "amount", "quantity", "productId", "status", "orderedQuantity")
        assert {k: data[k] for k in fixed} == {k: seed[k] for k in fixed}
        assert data["id"] == order_id
        (info,) = data["redeemInfos"]
        assert list(info) == list(seed["redeemInfos"][0])
        assert (info["instruction"], info["status"], info["pin"]) == (INSTRUCTION, "completed", "1234")
        assert len(info["expiryDate"]) == 10
        assert info["expiryDate"][4] == info["expiryDate"][7] == "-"
    assert by_id.json() == by_ref.json()
    # The raw amount is the integer 50, not "50" nor 50.0.
    assert b'"amount":50,' in by_id.content


async def test_products(rt, app_client):
    t = await factories.tenant(rt)
    await factories.operator(rt)
    await factories.product(
        rt,
        id="paypal-usa",
        name="PayPal USA Gift Card",
        description="",
        image_url="https://wizzgiftt.s3.ap-south-1.amazonaws.com/dkb6VzOEVsMUdrR5pDH4r/normal.png",
        countries=["US"],
        categories=["payments"],
        denominations={"min": 1, "max": 200000, "step": 10},
        price={"discount_bps": 0, "fee": 0},
    )
    await factories.product(
        rt,
        id="ntc-nepal",
        name="Nepal Telecom Refill",
        description=" ",
        image_url="https://wizzgiftt.s3.ap-south-1.amazonaws.com/ntc-nepal/normal.png",
        currency="NPR",
        countries=["NP"],
        categories=["topup"],
        denominations={"min": 1000, "max": 300000},
        price={"discount_bps": 0, "fee": 50},
        required_fields=[
            {"id": "7FeXMgqYEgndkQVuG8n1", "name": "mobile", "type": "input", "description": "phone", "required": True}
        ],
    )
    tok = await seed_tokens(app_client, rt, t.account_id, scopes=("viewProducts",))
    r = await app_client.get(f"{B2B}/products", headers=bearer(tok["access_token"]))
    assert r.status_code == 200, r.text
    body = r.json(parse_float=Decimal)
    assert_same_shape(body, PRODUCTS_RESPONSE)
    got = {p["id"]: p for p in body["data"]}
    paypal, ntc = got["paypal-usa"], got["ntc-nepal"]
    for ours, seed in ((paypal, PRODUCTS_RESPONSE["data"][0]), (ntc, PRODUCTS_RESPONSE["data"][1])):
        for key, value in seed.items():
            if key not in ("skus", "fee"):
                assert ours[key] == value, key
    assert paypal["skus"] == [
        {
            "min": Decimal("0.01"),
            "max": 2000,
            "minCost": Decimal("0.01"),
            "changeStep": Decimal("0.1"),
            "description": "PayPal USA Gift Card",
        }
    ]
    (sku,) = ntc["skus"]
    assert (sku["min"], sku["max"], sku["minCost"]) == (10, 3000, Decimal("10.5"))
    assert ntc["fee"] == Decimal("0.5")  # our fee: a flat amount per card, in major units


async def test_webhook_body_and_signature(rt, clock, app_client, seeded, tmp_path):
    rx = Receiver().start()
    try:
        _, secret = await factories.webhook_endpoint(rt, seeded.account_id, rx.url("/hook"), format="wizzgift")
        tok = await seed_tokens(app_client, rt, seeded.account_id)
        r = await app_client.post(
            f"{B2B}/order", json={**ORDER_REQUEST, "quantity": 2}, headers=bearer(tok["access_token"])
        )
        assert r.status_code == 200, r.text
        await drive(rt, clock)
        (got,) = rx.by_path("/hook")
    finally:
        rx.stop()
    body = got.json()
    assert_same_shape(body, WEBHOOK_BODY)
    assert list(body) == list(WEBHOOK_BODY)
    assert [list(i) for i in body["redeemInfos"]] == [list(i) for i in WEBHOOK_BODY["redeemInfos"]]
    assert (body["id"], body["referenceId"], body["status"], body["orderedQuantity"]) == (
        r.json()["data"]["id"],
        "order_12345",
        "completed",
        2,
    )
    assert node_verify([(got.body, got.headers["x-signature"], secret)], tmp_path) == [
        {"valid": True, "identical": True}
    ]


async def test_error_envelope_for_each_status_of_the_table(rt, app_client, make_app, seeded, monkeypatch):
    tok = await seed_tokens(app_client, rt, seeded.account_id, scopes=("viewOrder",))
    auth = bearer(tok["access_token"])
    full = await seed_tokens(app_client, rt, seeded.account_id)
    cases = [
        (400, await app_client.post(f"{B2B}/order", content=b"{", headers=bearer(full["access_token"]))),
        (401, await app_client.get(f"{B2B}/products")),
        (403, await app_client.post(f"{B2B}/order", json=ORDER_REQUEST, headers=auth)),
        (404, await app_client.get(f"{B2B}/order?id=ord_nope", headers=auth)),
        (404, await app_client.get(f"{B2B}/no-such-path", headers=auth)),
    ]
    cases.append(
        (
            422,
            await app_client.post(
                f"{B2B}/order", json={**ORDER_REQUEST, "amount": 50.001}, headers=bearer(full["access_token"])
            ),
        )
    )
    limited = make_app(rate_limit_per_token="1/minute")
    from httpx import ASGITransport, AsyncClient

    async with AsyncClient(transport=ASGITransport(app=limited), base_url="http://testserver") as http:
        await http.get(f"{B2B}/products", headers=bearer(full["access_token"]))
        cases.append((429, await http.get(f"{B2B}/products", headers=bearer(full["access_token"]))))

    from giftwell.services.catalog import products

    async def broken(rt):
        raise RuntimeError("the catalog is on fire")

    monkeypatch.setattr(products, "browse", broken)
    cases.append((500, await app_client.get(f"{B2B}/products", headers=bearer(full["access_token"]))))
    for status, r in cases:
        assert r.status_code == status, (status, r.text)
        assert r.headers["content-type"] == "application/json"
        assert_same_shape(r.json(), ERROR_BODY)
        assert set(r.json()) == {"success", "message"}
        assert r.json()["success"] is False
    assert "retry-after" in cases[-2][1].headers
    assert cases[2][1].json()["message"] == "The access token must have the createOrder scope."
    assert "fire" not in cases[-1][1].text


class RefuseAll:
    async def issue(self, uow, req):
        raise suppliers.SupplyFailed("out of stock")


async def test_a_failed_order_s_webhook_is_the_seed_s_body_too(rt, clock, app_client, seeded, tmp_path, monkeypatch):
    monkeypatch.setitem(suppliers.REGISTRY, "refuse-all", RefuseAll())
    await factories.product(rt, id="sold-out", supplier="refuse-all")
    rx = Receiver().start()
    try:
        _, secret = await factories.webhook_endpoint(rt, seeded.account_id, rx.url("/hook"), format="wizzgift")
        tok = await seed_tokens(app_client, rt, seeded.account_id)
        body = {**ORDER_REQUEST, "productId": "sold-out", "quantity": 2, "requiredInfoFromUser": []}
        r = await app_client.post(f"{B2B}/order", json=body, headers=bearer(tok["access_token"]))
        assert r.status_code == 200, r.text
        await drive(rt, clock)
        (got,) = rx.by_path("/hook")
    finally:
        rx.stop()
    hook = got.json()
    assert list(hook) == list(WEBHOOK_BODY)
    assert (hook["status"], hook["orderedQuantity"]) == ("failed", 2)
    assert [list(i) for i in hook["redeemInfos"]] == [["rewardId", "status"]] * 2
    assert {i["status"] for i in hook["redeemInfos"]} == {"failed"}
    assert node_verify([(got.body, got.headers["x-signature"], secret)], tmp_path) == [
        {"valid": True, "identical": True}
    ]
    shown = await app_client.get(f"{B2B}/order?id={hook['id']}", headers=bearer(tok["access_token"]))
    assert (shown.json()["data"]["status"], shown.json()["data"]["redeemInfos"]) == ("failed", hook["redeemInfos"])


async def test_a_database_outage_is_a_5xx_to_retry_never_a_422(rt, app_client, seeded, monkeypatch):
    from giftwell.domain.errors import DatabaseUnavailable
    from giftwell.services.catalog import products
    from giftwell.services.orders import by_reference

    tok = await seed_tokens(app_client, rt, seeded.account_id)
    auth = bearer(tok["access_token"])
    for failure in (DatabaseUnavailable(retry_after=7), ConnectionRefusedError("connection refused")):

        async def down(*args, failure=failure, **kwargs):
            raise failure

        monkeypatch.setattr(products, "browse", down)
        monkeypatch.setattr(by_reference, "place_once", down)
        for r in (
            await app_client.get(f"{B2B}/products", headers=auth),
            await app_client.post(f"{B2B}/order", json=ORDER_REQUEST, headers=auth),
        ):
            assert r.status_code == 503, r.text
            assert r.json() == {
                "success": False,
                "message": "The service is briefly unavailable; retry with exponential backoff.",
            }
            assert r.headers["retry-after"] == ("7" if isinstance(failure, DatabaseUnavailable) else "5")
