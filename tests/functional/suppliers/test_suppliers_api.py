"""The operator's suppliers: `/v1/suppliers` and `giftwell suppliers add|update|list|sync` add,
change and list them without ever showing a credential again; products name their upstream in
`supplier` and `supplier_product`, checked when saved or imported. Both databases."""

from __future__ import annotations

import json

import sqlalchemy as sa
from typer.testing import CliRunner

from giftwell.cli.main import app as cli
from giftwell.services.catalog.upstream import config
from giftwell.store.models import Event, Supplier
from tests import dbdump, factories
from tests.conftest import TEST_SECRET


async def test_products_name_their_upstream_and_the_api_keeps_credentials_secret(rt, app_client):
    op = await factories.operator(rt)
    await factories.product(rt)
    body = {
        "name": "wizz",
        "base_url": "https://api.wizzgift.example/api/b2b/",
        "client_id": "client_123",
        "client_secret": "cs_very_secret_value",
        "refresh_token": "rt_very_secret_value",
        "webhook_secret": "whsec_very_secret_value",
    }
    r = await app_client.post("/v1/suppliers", json=body, headers=op.headers)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made == {
        **made,
        "object": "supplier",
        "name": "wizz",
        "kind": "wizzgift",
        "base_url": "https://api.wizzgift.example/api/b2b",
        "auth": "refresh_token",
        "webhook_secret_set": True,
        "max_quantity": 25,
        "status": "active",
    }
    listed = await app_client.get("/v1/suppliers", headers=op.headers)
    assert [s["name"] for s in listed.json()["data"]] == ["wizz"]
    for text in (r.text, listed.text, await dbdump.text(rt)):
        assert not [s for s in ("cs_very", "rt_very", "whsec_very") if s in text]
    again = await app_client.post("/v1/suppliers", json=body, headers=op.headers)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "conflict")
    for change, param in (
        ({"name": "house"}, "name"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"kind": "wegift"}, "kind"),
        ({"client_secret": " padded "}, "client_secret"),
        ({"extra": 1}, "extra"),
        ({"max_quantity": 0}, "max_quantity"),
        ({"max_quantity": 10_001}, "max_quantity"),
        ({"max_quantity": "25"}, "max_quantity"),
    ):
        bad = await app_client.post("/v1/suppliers", json={**body, "name": "other", **change}, headers=op.headers)
        assert bad.status_code == 422, (change, bad.text)
        assert param in json.dumps(bad.json()["error"]), bad.text

    product = {**factories.PRODUCT, "id": "via-wizz", "supplier": "wizz", "supplier_product": "paypal-usa"}
    assert (await app_client.post("/v1/products", json=product, headers=op.headers)).status_code == 201
    for change, param in (
        ({"supplier_product": None}, "supplier_product"),
        ({"supplier": "house"}, "supplier_product"),
        ({"supplier": "nobody"}, "supplier"),
    ):
        bad = await app_client.post("/v1/products", json={**product, "id": "via-x", **change}, headers=op.headers)
        assert bad.status_code == 422, (change, bad.text)
        assert bad.json()["error"]["param"] == param, bad.text
    async with rt.reader() as uow:
        assert (await uow.conn.execute(sa.select(sa.func.count()).select_from(Supplier))).scalar_one() == 1


async def test_the_operator_api_changes_a_supplier(rt, app_client):
    op = await factories.operator(rt)
    tenant = await factories.tenant(rt)
    body = {
        "name": "wizz",
        "base_url": "https://api.wizzgift.example/api/b2b",
        "client_id": "client_123",
        "client_secret": "cs_first_secret",
    }
    assert (await app_client.post("/v1/suppliers", json=body, headers=op.headers)).status_code == 201
    got = await app_client.get("/v1/suppliers/wizz", headers=op.headers)
    assert got.status_code == 200, got.text
    assert (got.json()["auth"], got.json()["webhook_secret_set"], got.json()["max_quantity"]) == (
        "client_credentials",
        False,
        25,
    )
    assert (await app_client.get("/v1/suppliers/nobody", headers=op.headers)).status_code == 404
    missing = await app_client.patch("/v1/suppliers/nobody", json={"paused": True}, headers=op.headers)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    for who in (tenant,):
        r = await app_client.patch("/v1/suppliers/wizz", json={"paused": True}, headers=who.headers)
        assert r.status_code == 403, r.text

    async with rt.reader() as uow:
        before = (await uow.conn.execute(sa.select(Supplier).where(Supplier.name == "wizz"))).one()
    change = {
        "base_url": "https://api2.wizzgift.example/api/b2b/",
        "client_id": "client_456",
        "client_secret": "cs_second_secret",
        "refresh_token": "rt_from_the_code_flow",
        "webhook_secret": "whsec_hook_secret",
        "max_quantity": 10,
    }
    r = await app_client.patch("/v1/suppliers/wizz", json=change, headers=op.headers)
    assert r.status_code == 200, r.text
    keys = ("base_url", "client_id", "auth", "webhook_secret_set", "max_quantity", "status")
    assert {k: r.json()[k] for k in keys} == {
        "base_url": "https://api2.wizzgift.example/api/b2b",
        "client_id": "client_456",
        "auth": "refresh_token",
        "webhook_secret_set": True,
        "max_quantity": 10,
        "status": "active",
    }
    async with rt.reader() as uow:
        after = (await uow.conn.execute(sa.select(Supplier).where(Supplier.name == "wizz"))).one()
        _, hook = await config.webhook_secret(uow, "wizz")
        opened = config.unseal(uow, after.id, config.CLIENT_SECRET, after.client_secret_enc)
    assert (hook, opened) == ("whsec_hook_secret", "cs_second_secret")
    assert after.token_version == before.token_version + 1  # the cached access token is dropped
    for text in (r.text, await dbdump.text(rt)):
        assert not [s for s in ("cs_second", "rt_from_the", "whsec_hook") if s in text]

    # Paused by the operator: an event, and the reason; then resumed.
    paused = await app_client.patch("/v1/suppliers/wizz", json={"paused": True}, headers=op.headers)
    assert (paused.json()["status"], paused.json()["paused_reason"]) == ("paused", "paused by an operator")
    again = await app_client.patch("/v1/suppliers/wizz", json={"paused": True}, headers=op.headers)
    assert again.json()["status"] == "paused"
    resumed = await app_client.patch("/v1/suppliers/wizz", json={"paused": False}, headers=op.headers)
    assert (resumed.json()["status"], resumed.json()["paused_reason"]) == ("active", None)
    async with rt.reader() as uow:
        events = (await uow.conn.execute(sa.select(Event.type).where(Event.type.like("supplier.%")))).scalars()
        assert sorted(events) == ["supplier.paused", "supplier.resumed"]

    for bad, param in (
        ({"max_quantity": 0}, "max_quantity"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"paused": "yes"}, "paused"),
        ({"webhook_secret": " padded "}, "webhook_secret"),
        ({"name": "renamed"}, "name"),
        ({"paused": True, "refresh_token": "rt_x"}, "paused"),
        ({"client_id": ""}, "client_id"),
    ):
        r = await app_client.patch("/v1/suppliers/wizz", json=bad, headers=op.headers)
        assert r.status_code == 422, (bad, r.text)
        assert param in json.dumps(r.json()["error"]), r.text
    async with rt.reader() as uow:
        last = (await uow.conn.execute(sa.select(Supplier).where(Supplier.name == "wizz"))).one()
    assert (last.status, last.max_quantity, last.base_url) == ("active", 10, "https://api2.wizzgift.example/api/b2b")


def test_cli_add_update_list_and_sync(tmp_path, monkeypatch):
    monkeypatch.setenv("GIFTWELL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GIFTWELL_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("GIFTWELL_SECRET_KEY", TEST_SECRET)
    runner = CliRunner()
    assert runner.invoke(cli, ["accounts", "create", "op", "--operator", "--json"]).exit_code == 0
    add = ["suppliers", "add", "b", "--base-url", "http://127.0.0.1:9/api/b2b", "--client-id", "cli_b"]
    refused = runner.invoke(cli, [*add, "--json"])
    assert refused.exit_code == 2  # the secret only comes on stdin
    made = runner.invoke(
        cli, [*add, "--client-secret-stdin", "--webhook-secret-stdin", "--json"], input="gws_secret\nwhsec_hook\n"
    )
    assert made.exit_code == 0, made.output
    got = json.loads(made.stdout)
    assert (got["name"], got["auth"], got["webhook_secret_set"], got["status"]) == (
        "b",
        "client_credentials",
        True,
        "active",
    )
    assert "gws_secret" not in made.output
    changed = runner.invoke(
        cli,
        ["suppliers", "update", "b", "--refresh-token-stdin", "--resume", "--max-quantity", "10", "--json"],
        input="gwr_refresh\n",
    )
    assert changed.exit_code == 0, changed.output
    assert (json.loads(changed.stdout)["auth"], json.loads(changed.stdout)["max_quantity"]) == ("refresh_token", 10)
    paused = runner.invoke(cli, ["suppliers", "update", "b", "--pause", "--json"])
    assert json.loads(paused.stdout)["paused_reason"] == "paused by an operator"
    assert runner.invoke(cli, ["suppliers", "update", "b", "--resume"]).exit_code == 0
    listed = runner.invoke(cli, ["suppliers", "list"])
    assert listed.exit_code == 0
    assert (
        "b: wizzgift at http://127.0.0.1:9/api/b2b, refresh_token, webhook secret set, at most 10 cards an order, active"
        in listed.output
    )
    products = tmp_path / "products.json"
    products.write_text(
        json.dumps([{**factories.PRODUCT, "id": "via-b", "supplier": "b", "supplier_product": "acme-usd"}])
    )
    imported = runner.invoke(cli, ["products", "import", str(products), "--json"])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["created"] == ["via-b"]
    # Nobody answers at port 9: one line, exit 1, never a traceback.
    down = runner.invoke(cli, ["suppliers", "sync", "b", "--json"])
    assert down.exit_code == 1, down.output
    error = json.loads(down.stderr)["error"]
    assert error["message"].startswith("supplier b: POST /oauth/token: ConnectError"), error
    missing = runner.invoke(cli, ["suppliers", "sync", "nobody", "--json"])
    assert missing.exit_code == 1
    assert json.loads(missing.stderr)["error"]["code"] == "not_found"
