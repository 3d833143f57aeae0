"""The operator's newer pages in headless Chromium against a real uvicorn server, on both
databases (axe-core and the screenshots on SQLite, as `test_dashboard_browser.py` does): the audit
log filtered through its form and exported, a signing key pasted as PEM for a business and
revoked, a product design added from the product's page, a password reset from the team page to
the emailed link's page; and what a business's owner and viewer see of them, with the printable
receipt of its order."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from email import policy
from email.parser import BytesParser
from typing import Any

import pytest

from giftwell.app import build_runtime
from giftwell.services.funding import receipts
from giftwell.services.orders import placing
from giftwell.settings import Settings
from tests import factories
from tests.conftest import FakeClock
from tests.functional.web.test_dashboard_browser import AXE, Walk
from tests.functional.web.test_signin_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, serve_live
from tests.signing import KeyPair

pytestmark = pytest.mark.browser


async def _seed(settings: Settings, clock: FakeClock) -> dict[str, Any]:
    rt = build_runtime(settings, clock=clock)
    try:
        op = await factories.operator(rt)
        await factories.product(rt)
        await factories.user(rt, op.account_id, email="ops@giftwell.example", role="owner")
        await factories.user(rt, op.account_id, email="oli@giftwell.example", role="admin")
        shop = await factories.tenant(rt, name="Acme Rewards")
        await factories.user(rt, shop.account_id, email="ann@acme.example", role="owner")
        await factories.user(rt, shop.account_id, email="vic@acme.example", role="viewer")
        await factories.fund(rt, shop.account_id, 10_000)
        item = placing.ItemRequest(product=factories.PRODUCT["id"], amount=1000, quantity=1)
        order = await rt.transact(
            lambda uow: placing.place_order(uow, account_id=shop.account_id, req=placing.OrderRequest("rcpt-1", [item]))
        )
        async with rt.reader() as uow:
            (receipt,) = (await receipts.list_receipts(uow, account_id=shop.account_id, order_id=order.id)).data
        return {"shop": shop, "receipt": receipt.id}
    finally:
        await rt.close()


def _reset_link(settings: Settings, to: str) -> str:
    for _ in range(200):
        for path in settings.mail_dir.glob("*.eml"):
            msg = BytesParser(policy=policy.default).parse(path.open("rb"))
            if msg["To"] == to:
                found = re.findall(r"https?://\S+/reset/[A-Za-z0-9_-]+", msg.get_content())
                if found:
                    return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no reset email to {to}")


def test_the_operator_pages_in_chromium(db_url, tmp_path, clock, request):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: run `make test` (scripts/ensure-system-deps.sh chromium)")
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make test` (scripts/ensure-system-deps.sh axe)")
    from playwright.sync_api import expect, sync_playwright

    shots = ARTIFACTS / "dashboard" / request.node.callspec.id
    shots.mkdir(parents=True, exist_ok=True)
    with serve_live(db_url, tmp_path, clock, background=True) as (base, settings):
        seed = asyncio.run(_seed(settings, clock))
        shop = seed["shop"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                sweep = request.node.callspec.id == "sqlite"
                w = Walk(browser, base, shots, AXE.read_text() if sweep else None)
                page = w.page
                w.sign_in("ops@giftwell.example")

                # A design added from the product's page.
                w.go("/dashboard/catalog")
                w.submit(f"a[href='/dashboard/catalog/{factories.PRODUCT['id']}']")
                page.fill("#design_id", "WWQ912SWAP01")
                page.fill("#design-name", "Swap and save")
                page.fill("#image_url", "https://images.example/swap.png")
                w.submit("text=Add the design")
                expect(page.locator("#designs tbody tr")).to_have_count(1)
                assert "Swap and save" in page.inner_text("#designs")
                w.check("product")

                # A signing key for the business: choose it, paste the PEM, register, revoke.
                w.go("/dashboard/developers/signing-keys")
                page.select_option("#f-account", label="Acme Rewards")
                w.submit("text=Show")
                pair = KeyPair()
                page.fill("#kid", "acme-2026")
                page.fill("#public_key", pair.public_pem)
                page.fill("#key-name", "Acme till")
                w.submit("text=Register the key")
                assert "Key registered." in page.inner_text("main")
                row = page.locator("#signing-keys tbody tr").first
                assert "acme-2026" in row.inner_text()
                assert "active" in row.inner_text()
                w.check("signing-keys")
                w.submit("#signing-keys button:has-text('Revoke')")
                assert "revoked" in page.locator("#signing-keys tbody tr").first.inner_text()
                assert page.locator("#signing-keys button").count() == 0

                # A password reset from the team page; the emailed link's page sets a new one.
                w.go("/dashboard/team")
                w.submit("button:has-text('Reset password of oli@giftwell.example')")
                assert "Password reset link sent." in page.inner_text("main")
                link = _reset_link(settings, "oli@giftwell.example")
                w.ctx.clear_cookies()
                page.goto(link)
                assert "Choose a new password" in page.inner_text("h1")
                w.check("password-reset")
                page.fill("#password", "oli's brand new password")
                page.fill("#confirm", "oli's brand new password")
                w.submit("button.primary")
                w.sign_in("oli@giftwell.example", "oli's brand new password")

                # The audit log: each of those actions, filtered through the form, then exported.
                w.go("/dashboard/audit")
                log = page.inner_text("#audit")
                for action in (
                    "product.updated",
                    "signing_key.added",
                    "signing_key.revoked",
                    "user.password_reset_sent",
                ):
                    assert action in log, (action, log)
                assert log.count("user.password_reset") == 2, log  # sent, then used
                w.check("audit")
                page.fill("#f-action", "signing_key.*")
                page.select_option("#f-account", label="Acme Rewards")
                w.submit("text=Filter")
                expect(page.locator("#audit tbody tr")).to_have_count(2)
                href = page.get_attribute("#audit-export", "href")
                assert href is not None
                export = page.request.get(base + href)
                assert export.status == 200
                rows = list(csv.DictReader(io.StringIO(export.text())))
                assert [r["action"] for r in rows] == ["signing_key.added", "signing_key.revoked"]
                assert {r["account_id"] for r in rows} == {shop.account_id}

                # The business's owner: its key, read-only, and its own log.
                w.sign_in("ann@acme.example")
                w.go("/dashboard/developers/signing-keys")
                assert "acme-2026" in page.inner_text("#signing-keys")
                assert page.locator("form[method=post]").count() == 1  # sign out only
                w.check("signing-keys-business")
                # The printable receipt of its order (its own inline stylesheet), through axe too.
                w.go("/dashboard/funding")
                w.submit(f"a[href='/dashboard/funding/receipts/{seed['receipt']}']")
                assert "9.75" in page.inner_text("body")  # 10.00 less the product's 2.5 %
                w.check("receipt")
                w.go("/dashboard/audit")
                assert "signing_key.added" in page.inner_text("#audit")
                assert page.locator("#f-account").count() == 0
                assert page.locator("a[href='/dashboard/catalog']").count() == 0

                # Its viewer: no audit log in the navigation, and the page refused.
                w.sign_in("vic@acme.example")
                assert page.locator("nav a[href='/dashboard/audit']").count() == 0
                forbidden = page.request.get(base + "/dashboard/audit")
                assert forbidden.status == 403

                assert not w.violations, "\n".join(w.violations)
            finally:
                browser.close()
