"""The catalog: operator writes (API and CLI import), buyers browse with filters; funding and
the account's balances."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from giftwell.services.ledger import verify
from tests import factories
from tests.conftest import TEST_SECRET

NTC = {
    "id": "ntc-nepal",
    "name": "Nepal Telecom Refill",
    "brand": "NTC",
    "currency": "NPR",
    "countries": ["NP"],
    "categories": ["topup"],
    "denominations": {"values": [1000, 2500, 5000]},
    "price": {"discount_bps": 0, "fee": 100},
    "required_fields": [
        {
            "id": "7FeXMgqYEgndkQVuG8n1",
            "name": "mobile",
            "type": "input",
            "description": "phone",
            "required": True,
            "options": [],
        }
    ],
    "expiry_months": None,
    "supplier": "house",
    "active": True,
}


async def test_operator_writes_buyer_reads(rt, app_client):
    op = await factories.operator(rt)
    buyer = await factories.tenant(rt)
    r = await app_client.post("/v1/products", json=factories.PRODUCT, headers=op.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    for key, value in factories.PRODUCT.items():
        assert body[key] == value, key
    assert body["issuer"] is None
    assert (await app_client.post("/v1/products", json=NTC, headers=op.headers)).status_code == 201
    # the same id again is a conflict; a buyer may not write
    r = await app_client.post("/v1/products", json=factories.PRODUCT, headers=op.headers)
    assert r.status_code == 409
    assert r.json()["error"]["param"] == "id"
    r = await app_client.post("/v1/products", json={**NTC, "id": "other"}, headers=buyer.headers)
    assert r.status_code == 403

    r = await app_client.get("/v1/products", headers=buyer.headers)
    assert [p["id"] for p in r.json()["data"]] == ["acme-usd", "ntc-nepal"]
    for query, ids in (
        ("country=NP", ["ntc-nepal"]),
        ("currency=USD", ["acme-usd"]),
        ("category=retail", ["acme-usd"]),
        ("category=none", []),
    ):
        r = await app_client.get(f"/v1/products?{query}", headers=buyer.headers)
        assert [p["id"] for p in r.json()["data"]] == ids, query

    r = await app_client.patch("/v1/products/acme-usd", json={"active": False}, headers=op.headers)
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    assert r.json()["price"] == {"discount_bps": 250, "fee": 0}
    r = await app_client.get("/v1/products", headers=buyer.headers)
    assert [p["id"] for p in r.json()["data"]] == ["ntc-nepal"]
    assert (await app_client.get("/v1/products/acme-usd", headers=buyer.headers)).status_code == 404
    assert (await app_client.get("/v1/products/ntc-nepal", headers=buyer.headers)).json()["required_fields"] == NTC[
        "required_fields"
    ]


async def test_product_validation(rt, app_client):
    op = await factories.operator(rt)
    cases = [
        ({"id": "Not A Slug"}, "id"),
        ({"currency": "XYZ"}, "currency"),
        ({"denominations": {"min": 500, "max": 100}}, "denominations.min"),
        ({"price": {"discount_bps": 20000, "fee": 0}}, "price.discount_bps"),
        ({"countries": ["usa"]}, "countries[0]"),
        ({"supplier": "nobody"}, "supplier"),
        (
            {"required_fields": [{"id": "a", "name": "size", "type": "select", "options": []}]},
            "required_fields[0].options",
        ),
    ]
    for change, param in cases:
        r = await app_client.post("/v1/products", json={**factories.PRODUCT, **change}, headers=op.headers)
        assert r.status_code == 422, change
        assert r.json()["error"]["param"] == param, (change, r.json())


async def test_admin_scope_only_for_the_operator(rt):
    from giftwell.domain.errors import Forbidden
    from giftwell.services.access import tokens

    t = await factories.tenant(rt)
    async with rt.uow() as uow:
        with pytest.raises(Forbidden) as exc:
            await tokens.create_token(uow, account_id=t.account_id, scopes=["admin"])
    assert exc.value.param == "scope"
    op = await factories.operator(rt)
    async with rt.uow() as uow:
        assert (await tokens.create_token(uow, account_id=op.account_id, scopes=["admin"])).scopes == ("admin",)


def _cli(*args: str):
    from giftwell.cli.main import app

    return CliRunner().invoke(app, list(args))


def test_cli_import_upserts_and_funding_add(monkeypatch, tmp_path):
    monkeypatch.setenv("GIFTWELL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GIFTWELL_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("GIFTWELL_SECRET_KEY", TEST_SECRET)
    r = _cli("accounts", "create", "ops", "--operator", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["is_operator"] is True
    assert _cli("accounts", "create", "ops2", "--operator", "--json").exit_code == 1  # one operator
    assert _cli("accounts", "create", "rewards-co").exit_code == 0
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps([factories.PRODUCT, NTC]))
    r = _cli("products", "import", str(path), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"created": ["acme-usd", "ntc-nepal"], "updated": []}
    path.write_text(json.dumps([{**factories.PRODUCT, "name": "Acme Card"}]))
    r = _cli("products", "import", str(path), "--json")
    assert json.loads(r.stdout) == {"created": [], "updated": ["acme-usd"]}
    # a bad entry names its index, and nothing of the file is written
    path.write_text(json.dumps([{**NTC, "id": "new-one"}, {**NTC, "currency": "nope"}]))
    r = _cli("products", "import", str(path), "--json")
    assert r.exit_code == 1
    assert json.loads(r.stderr)["error"]["param"] == "[1].currency"
    path.write_text(json.dumps([{**NTC, "id": "new-one"}]))
    assert json.loads(_cli("products", "import", str(path), "--json").stdout)["created"] == ["new-one"]

    args = ["funding", "add", "--account", "rewards-co", "--currency", "USD", "--json"]
    r = _cli(*args, "--amount", "25000")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["balance"] == 25000
    assert json.loads(_cli(*args, "--amount", "500").stdout)["balance"] == 25500
    assert _cli(*args, "--amount", "0").exit_code == 1
    assert json.loads(_cli("ledger", "verify", "--json").stdout)["ok"] is True


async def test_account_balances_and_statement(rt, app_client):
    await factories.operator(rt)
    buyer = await factories.tenant(rt)
    r = await app_client.get("/v1/account", headers=buyer.headers)
    assert r.json()["balances"] == []
    await factories.fund(rt, buyer.account_id, 25000)
    await factories.fund(rt, buyer.account_id, 500)
    await factories.fund(rt, buyer.account_id, 700, "EUR")
    r = await app_client.get("/v1/account", headers=buyer.headers)
    assert r.status_code == 200, r.text
    assert r.json()["balances"] == [
        {"currency": "EUR", "balance": 700, "available": 700},
        {"currency": "USD", "balance": 25500, "available": 25500},
    ]
    r = await app_client.get("/v1/account/statement?limit=2", headers=buyer.headers)
    page = r.json()
    assert [(t["kind"], t["amount"]) for t in page["data"]] == [("fund", 700), ("fund", 500)]
    r = await app_client.get(f"/v1/account/statement?cursor={page['next_cursor']}", headers=buyer.headers)
    assert [(t["kind"], t["amount"]) for t in r.json()["data"]] == [("fund", 25000)]
    async with rt.uow() as uow:
        assert (await verify.verify(uow)).ok
