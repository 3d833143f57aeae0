"""The dashboard in headless Chromium (Debian's /usr/bin/chromium through Playwright) against a
real uvicorn server with its in-process job worker, on both databases.

One walk through the product as its users would (on SQLite every page is also swept; on
PostgreSQL the walk alone, since the HTML is the same): the owner issues a card and sees its code once,
redeems from the card's page and reads the timeline, places an order that completes in the
background while its page refreshes, registers a webhook endpoint that fails, reads the attempt
log and replays; invites a colleague, who accepts from the emailed link and signs in; an admin
acts; a viewer finds no action buttons and has a forged post refused. Every page is shown at
1280x800 and 390x844, checked by axe-core (injected from the npm package `make test` installs,
never from a CDN) with no serious or critical violation, and photographed into test-artifacts/.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from giftwell.app import build_runtime
from giftwell.settings import Settings
from tests import factories
from tests.conftest import FakeClock
from tests.functional.web.test_signin_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, serve_live
from tests.receivers import Receiver, Reply

pytestmark = pytest.mark.browser

AXE = Path(os.environ.get("GIFTWELL_AXE_DIR", Path.home() / ".cache/giftwell/axe")) / "node_modules/axe-core/axe.min.js"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
WAIT = 20_000  # ms: the worker's jobs and the order page's refresh


async def _seed(settings: Settings, clock: FakeClock) -> dict[str, Any]:
    rt = build_runtime(settings, clock=clock)
    try:
        op = await factories.operator(rt)
        await factories.product(rt)
        await factories.user(rt, op.account_id, email="ops@giftwell.example", role="owner")
        shop = await factories.tenant(rt, name="Acme Rewards")
        await factories.fund(rt, shop.account_id, 500_000)
        for email, role in (
            ("ann@acme.example", "owner"),
            ("bob@acme.example", "admin"),
            ("vic@acme.example", "viewer"),
        ):
            await factories.user(rt, shop.account_id, email=email, role=role)
        old = await factories.card(rt, shop.account_id, currency="USD", amount=4000)
        return {"shop": shop, "old_card": old.card.id}
    finally:
        await rt.close()


class Walk:
    """A signed-in browser page, with the page sweep (both viewports, axe, screenshots)."""

    def __init__(self, browser: Any, base: str, shots: Path, axe: str | None) -> None:
        self.browser, self.base, self.shots, self.axe = browser, base, shots, axe
        self.ctx = browser.new_context(viewport=VIEWPORTS["desktop"])
        self.page = self.ctx.new_page()
        self.violations: list[str] = []

    def sign_in(self, email: str, password: str = factories.PASSWORD) -> None:
        self.ctx.clear_cookies()
        self.page.goto(self.base + "/login?next=/dashboard")
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        with self.page.expect_navigation():
            self.page.click("button[type=submit]")
        assert urlsplit(self.page.url).path == "/dashboard", self.page.url

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def check(self, name: str) -> None:
        """The page as it stands, at both viewports: axe, then a full-page screenshot each.
        Without `axe` (the PostgreSQL run: the same HTML) only the walk's own checks run."""
        if self.axe is None:
            return
        for label, size in VIEWPORTS.items():
            self.page.set_viewport_size(size)
            self.page.evaluate(self.axe)
            found = self.page.evaluate(
                "async () => (await axe.run(document)).violations"
                ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
                ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
            )
            self.violations += [f"{name} ({label}) {v}" for v in found]
            self.page.screenshot(path=self.shots / f"{name}-{label}.png", full_page=True)
        self.page.set_viewport_size(VIEWPORTS["desktop"])

    def visit(self, path: str, name: str) -> None:
        self.go(path)
        self.check(name)

    def submit(self, selector: str) -> None:
        with self.page.expect_navigation():
            self.page.click(selector)


def _mailed_link(settings: Settings, to: str) -> str:
    for path in sorted(settings.mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
        msg = BytesParser(policy=policy.default).parse(path.open("rb"))
        if msg["To"] == to:
            (link,) = re.findall(r"https?://\S+/invite/[A-Za-z0-9_-]+", msg.get_content())
            return link
    raise AssertionError(f"no email to {to}")


def _wait_for_mail(settings: Settings, to: str) -> str:
    for _ in range(200):
        try:
            return _mailed_link(settings, to)
        except AssertionError:
            time.sleep(0.1)
    return _mailed_link(settings, to)


def test_the_dashboard_in_chromium(db_url, tmp_path, clock, request):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: run `make test` (scripts/ensure-system-deps.sh chromium)")
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make test` (scripts/ensure-system-deps.sh axe)")
    from playwright.sync_api import expect, sync_playwright

    shots = ARTIFACTS / "dashboard" / request.node.callspec.id
    shots.mkdir(parents=True, exist_ok=True)
    rx = Receiver({"/hook": [Reply(500, body=b"receiver down")] * 99})
    rx.start()
    with serve_live(db_url, tmp_path, clock, background=True, webhooks_allow_private=True) as (base, settings):
        seed = asyncio.run(_seed(settings, clock))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                # The pages are the same HTML on both databases: axe and the screenshots once.
                sweep = request.node.callspec.id == "sqlite"
                w = Walk(browser, base, shots, AXE.read_text() if sweep else None)
                page = w.page

                # Sign-in and the 404 page, before anyone is signed in.
                w.visit("/login", "signin")
                w.visit("/nowhere", "not-found")
                assert "Back to the dashboard" in page.inner_text("main")

                # The owner issues a card and sees its code once.
                w.sign_in("ann@acme.example")
                w.go("/dashboard/cards/new")
                w.check("card-new")
                page.select_option("#currency", "USD")
                page.fill("#amount", "50.00")
                page.fill("#recipient_name", "Rita")
                page.fill("#recipient_email", "rita@example.com")
                w.submit("button.primary")
                assert page.locator("#card-code").count() == 1, page.inner_text("main")
                code = page.inner_text("#card-code")
                assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code), code
                w.check("card-issued")
                w.submit("text=Open the card")
                assert code not in page.content()
                card_path = urlsplit(page.url).path

                # Redeem from the card's page; the timeline shows it with the balance after.
                page.fill("#redeem-amount", "12.50")
                page.fill("#redeem-reference", "till 4")
                w.submit("#redeem-submit")
                expect(page.locator("#balance")).to_have_text("$37.50")
                rows = page.locator("#timeline tbody tr").all_inner_texts()
                assert [x for x in ("redeem", "$37.50", "till 4") if x in rows[0]] == ["redeem", "$37.50", "till 4"], (
                    rows
                )
                assert "activate" in rows[-1], rows
                w.check("card")

                # The list: search by code suffix, and the export link.
                w.go("/dashboard/cards?q=" + code[-4:])
                assert page.locator("#cards tbody tr").count() == 1
                w.check("cards")

                # A background order (11 cards): its page refreshes itself until it completes.
                w.go("/dashboard/orders/new")
                w.check("order-new")
                page.fill("#amount", "20.00")
                page.fill("#quantity", "11")
                page.fill("#reference", "browser-order")
                w.submit("button.primary")
                expect(page.locator("#order-status")).to_contain_text("completed", timeout=WAIT)
                assert "11 of 11" in page.inner_text("main")
                w.check("order")
                w.visit("/dashboard/orders", "orders")
                assert "browser-order" in page.inner_text("#orders")

                # A webhook endpoint that fails: the attempt log, then a replay.
                w.go("/dashboard/developers/webhooks")
                page.fill("#url", rx.url("/hook"))
                page.fill("#description", "browser test")
                w.submit("form[action='/dashboard/developers/webhooks'] button.primary")
                secret = page.inner_text("#new-secret")
                assert secret.startswith("whsec_")
                w.check("webhook-created")
                w.go("/dashboard/developers/webhooks")
                assert secret not in page.content()
                page.click("text=" + rx.url("/hook"))
                page.wait_for_url(re.compile(r"/dashboard/developers/webhooks/\w+$"))
                endpoint_path = urlsplit(page.url).path
                # Make an event: a reload of the card.
                w.go(card_path)
                page.fill("#reload-amount", "5.00")
                w.submit("form[action$='/reload'] button")
                for _ in range(100):
                    w.go(endpoint_path)
                    if page.locator("article.attempt").count():
                        break
                    page.wait_for_timeout(200)
                first = page.locator("article.attempt").first
                assert "HTTP 500" in first.inner_text()
                first.locator("summary").click()
                log = first.inner_text()
                assert "receiver down" in log
                assert "webhook-signature: [redacted]" in log
                assert secret not in page.content()
                w.check("webhook-endpoint")
                before = page.locator("article.attempt").count()
                w.submit("article.attempt >> nth=0 >> button:has-text('Replay')")
                for _ in range(100):
                    w.go(endpoint_path)
                    if page.locator("article.attempt").count() > before:
                        break
                    page.wait_for_timeout(200)
                assert page.locator("article.attempt").count() > before
                w.visit("/dashboard/developers/events", "events")

                # A personal token, shown once.
                w.go("/dashboard/developers/tokens")
                page.fill("#token-name", "till")
                page.check("input[value='cards:read']")
                w.submit("form[action='/dashboard/developers/tokens'] button.primary")
                token = page.inner_text("#new-token")
                assert token.startswith("gw_")
                w.check("token-created")

                # Invite a colleague; the emailed link lets them in.
                w.go("/dashboard/team")
                page.fill("#invite-email", "cat@acme.example")
                page.select_option("#invite-role", "admin")
                w.submit("text=Send the invitation")
                assert "cat@acme.example" in page.inner_text("#invited")
                w.check("team")
                link = _wait_for_mail(settings, "cat@acme.example")
                w.ctx.clear_cookies()
                page.goto(link)
                assert "Join Acme Rewards" in page.inner_text("h1")
                w.check("invitation")
                page.fill("#password", "cat's long new password")
                page.fill("#confirm", "cat's long new password")
                w.submit("button.primary")
                w.sign_in("cat@acme.example", "cat's long new password")
                assert "cat@acme.example (admin" in page.inner_text("header")

                # Every other page, as the owner.
                w.sign_in("ann@acme.example")
                for path, name in (
                    ("/dashboard", "home"),
                    ("/dashboard/funding", "funding"),
                    ("/dashboard/reports", "reports"),
                    ("/dashboard/developers", "developers"),
                    ("/dashboard/developers/webhooks", "webhooks"),
                    ("/dashboard/developers/tokens", "tokens"),
                    ("/dashboard/clients", "clients"),
                ):
                    w.visit(path, name)
                w.go("/dashboard")
                home = page.locator("main").inner_text()
                assert "Liability now" in home
                assert "$" in home
                assert page.locator("svg polyline").count() == 1

                # An admin acts: blocks the older card.
                w.sign_in("bob@acme.example")
                w.go(f"/dashboard/cards/{seed['old_card']}")
                w.submit("form[action$='/block'] button")
                assert "blocked" in page.inner_text("h1")

                # The viewer sees no action, and a forged post is refused.
                w.sign_in("vic@acme.example")
                w.go(card_path)
                assert page.locator("form[method=post]").count() == 1  # sign out only
                assert page.locator("#redeem-submit").count() == 0
                w.check("card-viewer")
                csrf = page.locator("input[name=csrf]").first.get_attribute("value")
                forged = page.request.post(
                    base + card_path + "/redeem", form={"csrf": csrf, "amount": "1.00"}, max_redirects=0
                )
                assert forged.status == 403
                w.go(card_path)
                expect(page.locator("#balance")).to_have_text("$42.50")

                # The operator's pages.
                w.sign_in("ops@giftwell.example")
                w.visit("/dashboard/catalog", "catalog")
                w.visit("/dashboard/jobs", "jobs")

                assert not w.violations, "\n".join(w.violations)
            finally:
                browser.close()
    rx.stop()
