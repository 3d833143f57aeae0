"""`/v1/reports` end to end: the shapes, `reports:read`, inputs refused with the field named, and
the CSV export of cards expiring soon (no codes)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from giftwell.services.runtime import Runtime
from tests import factories
from tests.functional.support import Api, expect_error


async def test_liability_answers_per_currency_in_minor_units(api: Api, rt: Runtime, clock):
    before = clock.now
    clock.advance(seconds=1)
    await factories.card(rt, api.tenant.account_id, currency="EUR", amount=1250)
    await factories.card(rt, api.tenant.account_id, currency="EUR", amount=0)
    await factories.card(rt, api.tenant.account_id, currency="KWD", amount=1001)
    body = await api.ok("GET", "/v1/reports/liability")
    assert set(body) == {"as_of", "data"}
    assert body["data"] == [
        {"currency": "EUR", "amount": 1250, "cards": 1, "links": 0, "link_count": 0},
        {"currency": "KWD", "amount": 1001, "cards": 1, "links": 0, "link_count": 0},
    ]
    then = await api.ok("GET", "/v1/reports/liability", params={"as_of": before.isoformat()})
    assert then["data"] == []
    await api.error(
        "GET",
        "/v1/reports/liability",
        params={"as_of": "2026-01-01T00:00:00"},
        status=422,
        code="validation_error",
        param="as_of",
    )


async def test_reports_need_their_scope(make_api):
    reader = await make_api(scopes=["cards:read"])
    r = await reader.call("GET", "/v1/reports/liability")
    expect_error(r, 403, "insufficient_scope", "scope")


async def test_breakage_inputs_are_checked(api: Api):
    body = await api.ok("GET", "/v1/reports/breakage", params={"rate": "0.05"})
    assert body["rate"] == "0.05"
    assert body["dormant_after_days"] == 1095
    assert body["data"] == []
    for bad in ("1", "-0.2", "0.1e", "nan", "0.00000001"):
        await api.error(
            "GET", "/v1/reports/breakage", params={"rate": bad}, status=422, code="validation_error", param="rate"
        )
    r = await api.call("GET", "/v1/reports/breakage")
    assert r.status_code == 422, r.text
    r = await api.call("GET", "/v1/reports/breakage", params={"rate": "0.1", "dormant_after_days": 0})
    assert r.status_code == 422, r.text


async def test_expiring_soon_pages_and_exports_without_codes(api: Api, rt: Runtime, clock):
    acct = api.tenant.account_id
    made = [
        await factories.card(rt, acct, amount=100 * (i + 1), expires_at=clock.now + timedelta(days=i + 1))
        for i in range(3)
    ]
    await factories.card(rt, acct, amount=100, expires_at=clock.now + timedelta(days=40))
    page = await api.ok("GET", "/v1/reports/expiring", params={"days": 7, "limit": 2})
    assert [c["id"] for c in page["data"]] == [m.card.id for m in made[:2]]
    assert page["totals"] == [{"currency": "EUR", "amount": 600, "cards": 3}]
    assert page["has_more"] is True
    nxt = await api.ok("GET", "/v1/reports/expiring", params={"days": 7, "cursor": page["next_cursor"]})
    assert [c["id"] for c in nxt["data"]] == [made[2].card.id]
    await api.error(
        "GET",
        "/v1/reports/expiring",
        params={"cursor": "bm90IGEgY3Vyc29y"},
        status=422,
        code="validation_error",
        param="cursor",
    )
    r = await api.call("GET", "/v1/reports/expiring.csv", params={"days": 7})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["id"] for row in rows] == [m.card.id for m in made]
    assert [row["balance_decimal"] for row in rows] == ["1.00", "2.00", "3.00"]
    for m in made:
        assert m.code not in r.text
        assert m.code.replace("-", "") not in r.text
    r = await api.call("GET", "/v1/reports/expiring.csv", params={"days": 0})
    assert r.status_code == 422
