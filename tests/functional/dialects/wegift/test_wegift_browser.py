"""A WeGift order's reward link in headless Chromium (Debian's, through Playwright) against a real
uvicorn server: the order is placed with `POST /v2/order` over loopback HTTP (products restricted
to two), the recipient opens the link, picks product 1 for part of the value and product 2 for
the rest; a second tab showing the same page double-clicks the same pick and gets the same card,
not a second one; `GET /v2/order/{id}/links` then shows the clicks and an unspent balance of 0,
and the ledger verifies. Screenshots go to test-artifacts/<test id>/. Both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from giftwell.app import build_runtime
from giftwell.services.ledger import verify
from giftwell.settings import Settings
from giftwell.store.models import Card, ChoicePick
from tests.conftest import FakeClock
from tests.functional.dialects.wegift.support import V2, gb_buyer
from tests.functional.web.test_signin_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, serve_live

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(db_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[tuple[str, Settings]]:
    with serve_live(db_url, tmp_path, clock) as served:
        yield served


async def _buyer(settings: Settings, clock: FakeClock):
    rt = build_runtime(settings, clock=clock)
    try:
        return await gb_buyer(rt)
    finally:
        await rt.close()


async def _after(settings: Settings, clock: FakeClock) -> tuple[int, int, bool]:
    rt = build_runtime(settings, clock=clock)
    try:
        async with rt.reader() as uow:
            picks = (await uow.conn.execute(sa.select(sa.func.count()).select_from(ChoicePick))).scalar_one()
            cards = (
                await uow.conn.execute(
                    sa.select(sa.func.count()).select_from(Card).where(Card.metadata_["choice_link"].is_not(None))
                )
            ).scalar_one()
        async with rt.uow() as uow:
            report = await verify.verify(uow)
        return int(picks), int(cards), report.ok
    finally:
        await rt.close()


def test_a_recipient_picks_two_products_and_a_double_pick_makes_one_card(live_server, clock, request):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: run `make test` (scripts/ensure-system-deps.sh chromium)")
    from playwright.sync_api import sync_playwright

    base, settings = live_server
    buyer = asyncio.run(_buyer(settings, clock))
    shots = ARTIFACTS / request.node.name.replace("[", "-").rstrip("]")
    shots.mkdir(parents=True, exist_ok=True)
    with httpx.Client(base_url=base, headers=buyer.headers, timeout=30) as api:
        body = {
            "items": [{"country": "GB", "face_value": 30}],
            "idempotency_key": "browser-1",
            "card_id": buyer.card_id,
            "products": ["books-gb", "music-gb"],
        }
        order = api.post(f"{V2}/order", json=body)
        assert order.status_code == 201, order.text
        order_id = order.json()["id"]
        (link,) = api.get(f"{V2}/order/{order_id}/links").json()
        assert link["first_clicked_at"] is None

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                ctx = browser.new_context(viewport={"width": 390, "height": 844})
                one = ctx.new_page()
                one.goto(link["token_url"])
                assert one.inner_text("#left") == "£30.00"
                assert one.locator("#product-books-gb").count() == 1
                assert one.locator("#product-music-gb").count() == 1
                assert one.locator("#product-films-gb").count() == 0  # not among the order's products
                assert one.evaluate("document.documentElement.scrollWidth") <= 390
                one.screenshot(path=shots / "choice-open.png", full_page=True)
                # Product 1 for part of the value: a fixed denomination.
                one.select_option("#product-books-gb select[name=amount]", label="£10.00")
                with one.expect_navigation():
                    one.click("#product-books-gb button[type=submit]")
                assert one.inner_text("#amount") == "£10.00"  # the card's own reward page
                one.screenshot(path=shots / "card-1.png", full_page=True)

                one.goto(link["token_url"])
                assert one.inner_text("#left") == "£20.00"
                # A second tab showing the same page, about to make the same pick.
                two = ctx.new_page()
                two.goto(link["token_url"])
                # Product 2 for the rest: an open amount.
                one.fill("#product-music-gb input[name=amount]", "20")
                with one.expect_navigation():
                    one.click("#product-music-gb button[type=submit]")
                assert one.inner_text("#amount") == "£20.00"
                card_two = one.url
                # The second tab double-clicks the same pick: the same card, nothing spent twice.
                two.fill("#product-music-gb input[name=amount]", "20")
                # (The second submit may abort the first one's navigation: wait for where it ends.)
                two.dblclick("#product-music-gb button[type=submit]")
                two.wait_for_url(card_two)
                two.wait_for_load_state()
                assert two.url == card_two
                assert two.inner_text("#amount") == "£20.00"
                two.screenshot(path=shots / "second-tab.png", full_page=True)
                one.goto(link["token_url"])
                assert one.inner_text("#left") == "£0.00"
                assert one.locator("#spent").count() == 1
                one.screenshot(path=shots / "spent.png", full_page=True)
                ctx.close()
            finally:
                browser.close()

        (after,) = api.get(f"{V2}/order/{order_id}/links").json()
    assert after["select_link"]["unspent_balance"] == 0
    assert after["select_link"]["initial_balance"] == 30
    assert after["first_clicked_at"] is not None
    assert after["last_clicked_at"] is not None
    assert after["first_clicked_at"] <= after["last_clicked_at"]
    picks, cards, ok = asyncio.run(_after(settings, clock))
    assert (picks, cards) == (2, 2)
    assert ok
