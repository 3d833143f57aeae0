"""Product designs: in the catalog (API and import), chosen by an order item, refused when the
product has no such design, and shown as the card's picture in the email and on the reward page.
Both databases."""

from __future__ import annotations

import json
from email import policy
from email.parser import BytesParser

from typer.testing import CliRunner

from giftwell.services.catalog import product_data, products
from tests import factories
from tests.conftest import TEST_SECRET
from tests.functional.delivery_support import LINK, http, parts, runtime, work
from tests.functional.support import Api, expect_error

DESIGNS = [
    {"id": "WWQ912SWAP01", "name": "Summer swap", "image_url": "https://images.example/designs/swap01.png"},
    {"id": "birthday-2", "name": "Birthday balloons", "image_url": "https://images.example/designs/bday.png"},
]


async def test_designs_in_the_catalog_api(rt, app_client):
    op = await factories.operator(rt)
    buyer = await factories.tenant(rt)
    r = await app_client.post("/v1/products", json={**factories.PRODUCT, "designs": DESIGNS}, headers=op.headers)
    assert r.status_code == 201, r.text
    assert r.json()["designs"] == DESIGNS
    r = await app_client.get(f"/v1/products/{factories.PRODUCT['id']}", headers=buyer.headers)
    assert r.json()["designs"] == DESIGNS
    r = await app_client.patch(
        f"/v1/products/{factories.PRODUCT['id']}", json={"designs": DESIGNS[:1]}, headers=op.headers
    )
    assert r.json()["designs"] == DESIGNS[:1]
    assert (await app_client.get("/v1/products", headers=buyer.headers)).json()["data"][0]["designs"] == DESIGNS[:1]

    for bad, param in (
        ([DESIGNS[0], DESIGNS[0]], "designs"),
        ([{**DESIGNS[0], "id": "has space"}], "designs[0].id"),
        ([DESIGNS[0], {**DESIGNS[1], "image_url": "javascript:alert(1)"}], "designs[1].image_url"),
        ([{**DESIGNS[0], "name": "  "}], "designs[0].name"),
    ):
        r = await app_client.post(
            "/v1/products", json={**factories.PRODUCT, "id": "other", "designs": bad}, headers=op.headers
        )
        expect_error(r, 422, "validation_error", param)
    r = await app_client.post(
        "/v1/products", json={**factories.PRODUCT, "id": "other", "designs": [{"id": "x"}]}, headers=op.headers
    )
    assert r.status_code == 422, r.text


def test_designs_in_the_import_file(monkeypatch, tmp_path):
    from giftwell.cli.main import app

    monkeypatch.setenv("GIFTWELL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GIFTWELL_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("GIFTWELL_SECRET_KEY", TEST_SECRET)
    assert CliRunner().invoke(app, ["accounts", "create", "ops", "--operator"]).exit_code == 0
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps([{**factories.PRODUCT, "designs": DESIGNS}]))
    r = CliRunner().invoke(app, ["products", "import", str(path), "--json"])
    assert r.exit_code == 0, r.output
    path.write_text(json.dumps([{**factories.PRODUCT, "designs": [{**DESIGNS[0], "id": ""}]}]))
    r = CliRunner().invoke(app, ["products", "import", str(path), "--json"])
    assert r.exit_code == 1
    assert json.loads(r.stderr)["error"]["param"] == "[0].designs[0].id"


def order(design: str | None, **delivery) -> dict:
    item = {
        "product": factories.PRODUCT["id"],
        "amount": 2500,
        "country": "US",
        "recipient": {"name": "Ada", "email": "ada@example.com"},
        "sender": {"name": "Grace"},
        "message": "Happy birthday",
        "delivery": {"channel": "email", **delivery},
    }
    if design is not None:
        item["design"] = design
    return {"reference": f"po-{design}-{len(delivery)}", "items": [item]}


async def test_an_ordered_design_is_the_picture_of_the_email_and_the_reward_page(make_app):
    app = make_app(public_url="http://testserver")
    rt = runtime(app)
    api = Api(http(app), await factories.buyer(rt))
    async with rt.uow() as uow:
        current = product_data.as_dict(await products.get(uow, factories.PRODUCT["id"]))
        await products.save(uow, {**current, "designs": DESIGNS, "image_url": "https://images.example/acme.png"})
        await uow.commit()

    await api.error("POST", "/v1/orders", order("nope"), status=422, code="validation_error", param="items[0].design")
    made = await api.ok("POST", "/v1/orders", order("birthday-2"))
    assert made["items"][0]["design"] == "birthday-2"
    # With a picture of the delivery's own, the design is shown beside it.
    await api.ok("POST", "/v1/orders", order("WWQ912SWAP01", image_url="https://images.example/mine.png"))
    assert await work(app) == 2
    mails = [
        parts(BytesParser(policy=policy.default).parsebytes(p.read_bytes())) for p in rt.settings.mail_dir.glob("*.eml")
    ]
    assert len(mails) == 2
    first_text, first = next(m for m in mails if "Birthday balloons" in m[0])
    assert "Design: Birthday balloons" in first_text
    assert 'src="https://images.example/designs/bday.png" alt="Acme gift card, Birthday balloons design"' in first
    assert "acme.png" not in first  # the design replaces the product's picture
    _, second = next(m for m in mails if "Summer swap" in m[0])
    assert 'src="https://images.example/mine.png"' in second
    assert 'src="https://images.example/designs/swap01.png" alt="Acme gift card, Summer swap design"' in second

    [link] = set(LINK.findall(first_text))
    async with http(app) as browser:
        page = await browser.get(link.replace("http://testserver", ""))
    assert page.status_code == 200
    assert 'src="https://images.example/designs/bday.png"' in page.text
    assert "Design: Birthday balloons" in page.text
