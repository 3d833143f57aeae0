"""`sync` pulls B's catalog into A's products made by B: what B decides taken (amounts, required
fields, texts), what is A's kept (name, price rule, expiry), products B no longer sells, or sells
in another currency, made inactive. Both databases (A's)."""

from __future__ import annotations

from giftwell.services.catalog import products
from giftwell.services.catalog.upstream import sync
from tests import factories, upstream


async def test_sync_takes_what_b_decides_and_keeps_what_is_ours(make_pair):
    async with make_pair() as pair:
        await factories.product(
            pair.rb,
            id="acme-usd",
            description="Acme, from B",
            disclosure="Terms of B",
            redemption_instructions="Redeem at acme.example",
            denominations={"min": 1000, "max": 20000, "step": 500},
            required_fields=[{"id": "fld1", "name": "mobile", "description": "phone"}],
        )
        await factories.product(pair.rb, id="eur-card", currency="EUR", countries=["DE"])
        await factories.product(pair.ra, id="euro-via-b", supplier="b", supplier_product="eur-card")
        await factories.product(pair.ra, id="gone-via-b", supplier="b", supplier_product="not-at-b")

        report = await sync.sync(pair.ra, upstream.SUPPLIER)
        assert sorted(p["id"] for p in report.upstream) == ["acme-usd", "eur-card"]
        assert report.updated == [upstream.A_PRODUCT]
        assert set(report.deactivated) == {"euro-via-b", "gone-via-b"}
        assert "EUR, not USD" in report.deactivated["euro-via-b"]
        assert "no longer lists" in report.deactivated["gone-via-b"]
        async with pair.ra.reader() as uow:
            p = await products.get(uow, upstream.A_PRODUCT)
            gone = await products.get(uow, "gone-via-b")
        # B's: amounts, fields, texts. Ours: name, price rule, expiry, supplier link.
        assert p.denominations.as_dict() == {"min": 1000, "max": 20000, "step": 500}
        assert [(f.id, f.name, f.description) for f in p.required_fields] == [("fld1", "mobile", "phone")]
        assert (p.description, p.disclosure, p.redemption_instructions) == (
            "Acme, from B",
            "Terms of B",
            "Redeem at acme.example",
        )
        assert (p.name, p.price.discount_bps, p.expiry_months, p.supplier_product) == (
            "Acme, bought from B",
            100,
            None,
            "acme-usd",
        )
        assert p.active
        assert not gone.active
        # A field B requires is now asked of A's buyers, and carried to B.
        order = {"amount": 10, "referenceId": "po-f", "quantity": 1, "productId": upstream.A_PRODUCT}
        r = await pair.http.post(
            f"{pair.a_url}/api/b2b/order", json={**order, "requiredInfoFromUser": []}, headers=pair.buyer.headers
        )
        assert r.status_code == 422, r.text
        fields = [{"id": "fld1", "value": "+15550100"}]
        order_id = await pair.http.post(
            f"{pair.a_url}/api/b2b/order", json={**order, "requiredInfoFromUser": fields}, headers=pair.buyer.headers
        )
        assert await pair.ended(order_id.json()["data"]["id"]) == "completed"
