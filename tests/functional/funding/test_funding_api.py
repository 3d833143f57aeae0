"""Funding sources and receipts through the native API and the CLI: `GET /v1/funding-sources`,
orders naming a source (or refused past a credit line's limit), `GET /v1/receipts` and a receipt
as JSON and as its printable page, the statement per source, and `giftwell funding credit-line`
and `settle`. `ledger verify` passes after each test."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from giftwell.cli.main import app
from giftwell.services.funding import credit
from tests import factories
from tests.conftest import TEST_SECRET
from tests.functional.support import Api, assert_ledger_ok

PRICE = 975


@pytest.fixture(autouse=True)
async def _ledger_verifies(rt):
    yield
    await assert_ledger_ok(rt)


@pytest.fixture
async def buyer(rt, app_client) -> Api:
    return Api(app_client, await factories.buyer(rt, funds=10_000))


async def grant(rt, api: Api, limit: int, *, default: bool | None = None) -> str:
    async with rt.uow() as uow:
        s = await credit.set_credit_line(
            uow, account_id=api.tenant.account_id, currency="USD", limit=limit, default=default
        )
        await uow.commit()
    return s.id


def order(reference: str, cards: int = 1, source: str | None = None) -> dict:
    body: dict = {"reference": reference, "items": [{"product": "acme-usd", "amount": 1000, "quantity": cards}]}
    if source is not None:
        body["funding_source"] = source
    return body


async def test_funding_sources_and_an_order_on_a_credit_line(rt, buyer):
    line = await grant(rt, buyer, 2000)
    listed = (await buyer.get("/v1/funding-sources"))["data"]
    prepaid = listed[0]
    assert [(s["type"], s["currency"], s["default"]) for s in listed] == [
        ("prepaid", "USD", True),
        ("credit_line", "USD", False),
    ]
    assert {k: prepaid[k] for k in ("balance", "available", "credit_limit", "owed")} == {
        "balance": 10_000,
        "available": 10_000,
        "credit_limit": None,
        "owed": None,
    }
    assert prepaid["id"].startswith("fs_")
    assert prepaid["object"] == "funding_source"

    o = await buyer.post("/v1/orders", order("c1", 2, line))
    assert (o["status"], o["funding_source"]) == ("completed", line)
    (_, got) = (await buyer.get("/v1/funding-sources"))["data"]
    assert {k: got[k] for k in ("id", "balance", "available", "credit_limit", "owed")} == {
        "id": line,
        "balance": -2 * PRICE,
        "available": 2000 - 2 * PRICE,
        "credit_limit": 2000,
        "owed": 2 * PRICE,
    }
    err = await buyer.error(
        "POST", "/v1/orders", order("c2", 1, line), status=422, code="insufficient_funds", param="items"
    )
    assert (err["available"], err["required"], err["funding_source"]) == (2000 - 2 * PRICE, PRICE, line)
    # An unknown (or another account's) source is a 404 naming the field; a bad one a 422.
    await buyer.error(
        "POST", "/v1/orders", order("c3", 1, "fs_nope"), status=404, code="not_found", param="funding_source"
    )
    await buyer.error(
        "POST", "/v1/orders", order("c3", 1, "x" * 41), status=422, code="validation_error", param="funding_source"
    )
    # The prepaid balance was never touched by the credit-line order.
    assert (await buyer.get("/v1/funding-sources"))["data"][0]["balance"] == 10_000


async def test_receipts_as_json_and_as_a_printable_page(rt, buyer, other):
    o = await buyer.post("/v1/orders", order("r1", 3))
    page = await buyer.get("/v1/receipts")
    assert [r["kind"] for r in page["data"]] == ["charge", "top_up"]
    charge, top_up = page["data"]
    assert (charge["order"], charge["amount"], charge["currency"]) == (o["id"], 3 * PRICE, "USD")
    assert charge["lines"] == [
        {
            "description": "Acme Gift Card",
            "product": "acme-usd",
            "item": o["items"][0]["id"],
            "face_value": 1000,
            "quantity": 3,
            "unit_amount": PRICE,
            "amount": 3 * PRICE,
        }
    ]
    assert (top_up["amount"], top_up["order"]) == (10_000, None)
    assert await buyer.get(f"/v1/receipts/{charge['id']}") == charge
    assert (await buyer.get("/v1/receipts", params={"order": o["id"]}))["data"] == [charge]
    assert (await buyer.get("/v1/receipts", params={"kind": "top_up"}))["data"] == [top_up]
    await buyer.error("GET", "/v1/receipts", params={"kind": "gift"}, status=422, code="validation_error", param="kind")

    for kw in ({"params": {"format": "html"}}, {"headers": {"Accept": "text/html"}}):
        r = await buyer.call("GET", f"/v1/receipts/{charge['id']}", **kw)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in r.headers["content-security-policy"]
        html = r.text
        assert charge["id"] in html
        assert o["id"] in html
        assert "Acme Gift Card, face value 10.00 USD" in html
        assert '<td class="num" id="total">29.25 USD</td>' in html
        assert buyer.tenant.name in html
    r = await buyer.call("GET", f"/v1/receipts/{charge['id']}", headers={"Accept": "text/html, application/json"})
    assert r.json() == charge
    # Another account's receipt does not exist for them.
    await other.error("GET", f"/v1/receipts/{charge['id']}", status=404, code="not_found", param="receipt")
    assert (await other.get("/v1/receipts"))["data"] == []


async def test_the_statement_of_one_source(rt, buyer):
    line = await grant(rt, buyer, 5000, default=True)
    await buyer.post("/v1/orders", order("s1", 1))
    st = (await buyer.get("/v1/account/statement", params={"funding_source": line}))["data"]
    assert [(x["kind"], x["status"], x["amount"]) for x in st] == [
        ("charge", "posted", PRICE),
        ("credit_limit", "posted", 5000),
    ]
    everything = (await buyer.get("/v1/account/statement"))["data"]
    assert [x["kind"] for x in everything] == ["charge", "credit_limit", "fund"]
    await buyer.error(
        "GET",
        "/v1/account/statement",
        params={"funding_source": "fs_x"},
        status=404,
        code="not_found",
        param="funding_source",
    )


async def test_the_cli_grants_a_credit_line_and_records_a_settlement(rt, buyer, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {
        "GIFTWELL_DATABASE_URL": rt.settings.resolved_database_url,
        "GIFTWELL_DATA_DIR": str(tmp_path / "var"),
        "GIFTWELL_SECRET_KEY": TEST_SECRET,
        "GIFTWELL_LOG_LEVEL": "warning",
    }
    name = buyer.tenant.name

    async def cli(*args: str):
        return await asyncio.to_thread(CliRunner().invoke, app, ["funding", *args], env=env, catch_exceptions=False)

    out = await cli("credit-line", "--account", name, "--currency", "USD", "--limit", "3000", "--default")
    assert out.exit_code == 0, out.stdout
    assert "credit_line" in out.stdout
    assert "limit 3000" in out.stdout
    assert "(default)" in out.stdout
    o = await buyer.post("/v1/orders", order("cli-1", 2))
    line = o["funding_source"]
    out = await cli("settle", "--account", name, "--currency", "USD", "--amount", "5000", "--json")
    assert out.exit_code == 1
    assert "at most what is owed (1950)" in out.stderr
    out = await cli("settle", "--account", name, "--currency", "USD", "--amount", "1950", "--reference", "wire-7")
    assert out.exit_code == 0, out.stdout
    assert "owed 0" in out.stdout
    receipts = (await buyer.get("/v1/receipts", params={"kind": "settlement"}))["data"]
    assert [(r["amount"], r["reference"], r["funding_source"]) for r in receipts] == [(1950, "wire-7", line)]
    out = await cli("sources", "--account", name, "--json")
    assert out.exit_code == 0, out.stdout
    assert '"owed": 0' in out.stdout
