"""The reward page in headless Chromium (Debian's, through Playwright) against a real uvicorn
server, at phone (390x844) and desktop (1280x800) sizes: the amount and message are shown, Reveal
shows the code and a QR code, and the public balance page refuses after the guessing threshold.
Screenshots go to test-artifacts/<test id>/. Both databases."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import segno

from giftwell.app import build_runtime
from giftwell.jobs.worker import Worker
from giftwell.services.delivery import reward
from giftwell.settings import Settings
from tests import factories
from tests.conftest import FakeClock
from tests.functional.web.test_signin_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, serve_live

pytestmark = pytest.mark.browser
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


@pytest.fixture
def live_server(db_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[tuple[str, Settings]]:
    with serve_live(db_url, tmp_path, clock, guess_max_failures=3) as served:
        yield served


async def _seed(settings: Settings, clock: FakeClock) -> dict:
    """A card sent by email with a message and a picture (to the outbox), and its link."""
    rt = build_runtime(settings, clock=clock)
    try:
        t = await factories.tenant(rt, name="Northwind Books")
        from giftwell.domain.delivery import Channel, Notification
        from giftwell.services.delivery import deliveries

        issued = await factories.card(rt, t.account_id, amount=7550, pin="2468")
        async with rt.uow() as uow:
            await deliveries.request(
                uow,
                card=issued.card,
                notification=Notification(
                    Channel.EMAIL,
                    "ada@example.com",
                    recipient_name="Ada",
                    sender_name="Grace",
                    message="Happy birthday, Ada! Buy something <em>nice</em>.",
                    image_url="https://img.example/card.png",
                ),
                source="card",
                requested_by=t.account_id,
            )
            await uow.commit()
        await Worker(rt, periodic=(), worker_id="browser-test").run_once()
        async with rt.uow() as uow:
            token = await reward.token_of(uow, issued.card.id)
        return {"code": issued.code, "pin": issued.pin, "link": f"{settings.base_url}/r/{token}"}
    finally:
        await rt.close()


def _png() -> bytes:
    buf = io.BytesIO()
    segno.make("Northwind").save(buf, kind="png", scale=20, dark="#0b5cad")
    return buf.getvalue()


def test_reward_page_reveal_and_balance_in_chromium(live_server, clock, request):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: run `make test` (scripts/ensure-system-deps.sh chromium)")
    from playwright.sync_api import sync_playwright

    base, settings = live_server
    seed = asyncio.run(_seed(settings, clock))
    shots = ARTIFACTS / request.node.name.replace("[", "-").rstrip("]")
    shots.mkdir(parents=True, exist_ok=True)
    image = _png()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name, size in SIZES.items():
                ctx = browser.new_context(viewport=size)
                ctx.route("https://img.example/**", lambda route: route.fulfill(body=image, content_type="image/png"))
                page = ctx.new_page()
                page.goto(seed["link"])
                assert page.inner_text("#amount") == "€75.50"
                assert "Happy birthday, Ada! Buy something <em>nice</em>." in page.inner_text("#message")
                assert seed["code"] not in page.content()
                # Nothing wider than the screen: no sideways scrolling on a phone.
                assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
                page.screenshot(path=shots / f"reward-{name}.png", full_page=True)
                with page.expect_navigation():
                    page.click("#reveal")
                assert page.inner_text("#code") == seed["code"]
                assert page.inner_text("#pin") == seed["pin"]
                assert page.locator(".qr svg").count() == 1
                assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
                page.screenshot(path=shots / f"reward-revealed-{name}.png", full_page=True)
                ctx.close()

            ctx = browser.new_context(viewport=SIZES["phone"])
            page = ctx.new_page()
            page.goto(base + "/balance")
            page.fill("#code", seed["code"])
            page.fill("#pin", seed["pin"])
            with page.expect_navigation():
                page.press("#pin", "Enter")  # keyboard only
            assert page.inner_text("#balance") == "€75.50"
            page.screenshot(path=shots / "balance-phone.png", full_page=True)
            for _ in range(3):
                page.goto(base + "/balance")
                page.fill("#code", "ZZZZ-ZZZZ-ZZZZ-ZZZZ")
                with page.expect_navigation():
                    page.click("button[type=submit]")
                assert "could not find a card" in page.inner_text("#balance-error")
            page.goto(base + "/balance")
            page.fill("#code", seed["code"])
            page.fill("#pin", seed["pin"])
            with page.expect_navigation() as nav:
                page.click("button[type=submit]")
            assert nav.value.status == 429
            assert "Too many attempts" in page.content()
            assert "€75.50" not in page.content()
            page.screenshot(path=shots / "balance-refused.png", full_page=True)
            ctx.close()
        finally:
            browser.close()
