"""The reward page and the public balance check, over HTTP: 404 for a bad token, 410 with no
code for a blocked or disabled card, Reveal only as a CSRF-checked POST (recorded), first open
recorded exactly once under concurrent opens, and the balance page's one answer for unknown,
blocked and wrong-PIN cards, refused past the guessing threshold. Both databases."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import sqlalchemy as sa

from giftwell.domain.cards import CardAction
from giftwell.services.cards import lifecycle
from giftwell.services.delivery import reward
from giftwell.store.models import Card as CardRow
from giftwell.store.models import RewardLink
from giftwell.store.models import Transfer as TransferRow
from tests import factories
from tests.functional.delivery_support import events, http, runtime, send_card, tenant_api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def _link(app, api, **notification):
    card = await send_card(
        api, {"channel": "email", "to": "ada@example.com", "locale": "de-DE", **notification}, amount=4200
    )
    rt = runtime(app)
    async with rt.uow() as uow:
        token = await reward.token_of(uow, card["id"])
    return card, token


async def _stats(rt, card_id):
    async with rt.engine.connect() as conn:
        return (await conn.execute(sa.select(RewardLink).where(RewardLink.card_id == card_id))).one()


async def test_reveal_is_a_csrf_checked_post_and_is_recorded(make_app, clock):
    app = make_app(public_url="http://testserver")
    rt = runtime(app)
    api = await tenant_api(app, rt)
    card, token = await _link(app, api)
    async with http(app) as browser:
        page = await browser.get(f"/r/{token}")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "same-origin"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert card["code"] not in page.text
        assert '<html lang="de">' in page.text  # the notification's locale
        assert "42,00" in page.text
        csrf = CSRF.search(page.text).group(1)
        # No token, a wrong one, or another site's Origin: refused, nothing shown.
        assert (await browser.post(f"/r/{token}/reveal", data={})).status_code == 403
        assert (await browser.post(f"/r/{token}/reveal", data={"csrf": "x" * 64})).status_code == 403
        cross = await browser.post(
            f"/r/{token}/reveal", data={"csrf": csrf}, headers={"Origin": "https://evil.example"}
        )
        assert cross.status_code == 403
        assert (await _stats(rt, card["id"])).reveal_count == 0
        shown = await browser.post(f"/r/{token}/reveal", data={"csrf": csrf})
        assert shown.status_code == 200, shown.text
        assert card["code"] in shown.text
        assert "<svg" in shown.text  # the QR code
        assert shown.headers["cache-control"] == "no-store"
    link = await _stats(rt, card["id"])
    assert (link.open_count, link.reveal_count) == (1, 1)
    assert link.first_revealed_at == clock.now
    assert [t for t, _ in await events(rt, "reward.")] == ["reward.opened", "reward.revealed"]


async def test_bad_tokens_are_404_and_unusable_cards_410_without_the_code(make_app):
    app = make_app(public_url="http://testserver")
    rt = runtime(app)
    api = await tenant_api(app, rt)
    blocked, blocked_token = await _link(app, api)
    disabled, disabled_token = await _link(app, api, to="grace@example.com")
    async with rt.uow() as uow:
        await lifecycle.change_status(
            uow, account_id=api.tenant.account_id, card_id=blocked["id"], action=CardAction.BLOCK
        )
        await lifecycle.change_status(
            uow, account_id=api.tenant.account_id, card_id=disabled["id"], action=CardAction.DISABLE
        )
        await uow.commit()
    async with http(app) as browser:
        for bad in ("nope", "A" * 43, blocked_token[:-1] + ("A" if blocked_token[-1] != "A" else "B")):
            r = await browser.get(f"/r/{bad}")
            assert r.status_code == 404, bad
        for card, token in ((blocked, blocked_token), (disabled, disabled_token)):
            r = await browser.get(f"/r/{token}")
            assert r.status_code == 410
            assert card["code"] not in r.text
            assert "Reveal" not in r.text
    assert (await _stats(rt, blocked["id"])).first_opened_at is None


async def test_concurrent_first_opens_are_recorded_once(make_app, clock):
    app = make_app(public_url="http://testserver")
    rt = runtime(app)
    api = await tenant_api(app, rt)
    card, token = await _link(app, api)

    async def open_once():
        async with rt.uow() as uow:
            view = await reward.open_link(uow, token)
            await uow.commit()
        return view

    first_at = clock.now
    views = await asyncio.gather(*(open_once() for _ in range(12)))
    assert {v.first_opened_at for v in views} == {first_at}
    clock.advance(minutes=5)
    await open_once()
    link = await _stats(rt, card["id"])
    assert (link.first_opened_at, link.last_opened_at, link.open_count) == (first_at, clock.now, 13)
    assert [t for t, _ in await events(rt, "reward.opened")] == ["reward.opened"]


async def _balance(browser, code, pin=None):
    form = await browser.get("/balance")
    data = {"csrf": CSRF.search(form.text).group(1), "code": code}
    if pin is not None:
        data["pin"] = pin
    return await browser.post("/balance", data=data)


async def test_balance_page_has_one_answer_for_every_failure_and_refuses_past_the_threshold(make_app, clock):
    app = make_app(guess_max_failures=3, rate_limit_per_ip="0", rate_limit_per_token="0")
    rt = runtime(app)
    t = await factories.tenant(rt)
    other = await factories.tenant(rt)
    plain = await factories.card(rt, t.account_id, amount=1999)
    with_pin = await factories.card(rt, other.account_id, amount=777, currency="JPY", pin="4321")
    blocked = await factories.card(rt, t.account_id)
    async with rt.uow() as uow:
        await lifecycle.change_status(uow, account_id=t.account_id, card_id=blocked.card.id, action=CardAction.BLOCK)
        await uow.commit()
    async with http(app, "198.51.100.9") as browser:
        ok = await _balance(browser, plain.code.lower().replace("-", " "))
        assert ok.status_code == 200
        assert "€19.99" in ok.text
        ok = await _balance(browser, with_pin.code, "4321")  # another account's card: found as well
        assert ok.status_code == 200
        assert "¥777" in ok.text
        answers = [
            await _balance(browser, "ZZZZ-ZZZZ-ZZZZ-ZZZZ"),
            await _balance(browser, blocked.code),
            await _balance(browser, with_pin.code, "0000"),
        ]
        assert {r.status_code for r in answers} == {404}
        assert len({re.sub(CSRF, "", r.text) for r in answers}) == 1  # body for body the same
        refused = await _balance(browser, plain.code)  # a right code, past the threshold
        assert refused.status_code == 429
        assert "€19.99" not in refused.text
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 3600
    async with http(app, "198.51.100.10") as elsewhere:
        assert (await _balance(elsewhere, plain.code)).status_code == 200
    clock.advance(seconds=retry_after)
    async with http(app, "198.51.100.9") as browser:
        assert (await _balance(browser, plain.code)).status_code == 200


async def test_balance_page_expires_a_card_past_its_date_before_it_answers(make_app, clock):
    """A card past `expires_at` is expired on read, as on every other surface: the page shows
    it expired with nothing left, and the balance went to breakage once, before any sweep."""
    app = make_app(rate_limit_per_ip="0", rate_limit_per_token="0")
    rt = runtime(app)
    t = await factories.tenant(rt)
    issued = await factories.card(rt, t.account_id, amount=2500, expires_at=clock() + timedelta(days=1))
    clock.advance(days=2)
    async with http(app, "198.51.100.20") as browser:
        page = await _balance(browser, issued.code)
        assert page.status_code == 200
        assert "Status: expired" in page.text
        assert "€0.00" in page.text
        assert "€25.00" not in page.text
        again = await _balance(browser, issued.code)
        assert "Status: expired" in again.text
    async with rt.engine.connect() as conn:
        status = (await conn.execute(sa.select(CardRow.status).where(CardRow.id == issued.card.id))).scalar_one()
        kinds = (
            await conn.execute(
                sa.select(TransferRow.kind, TransferRow.amount).where(TransferRow.card_id == issued.card.id)
            )
        ).all()
    assert status == "expired"
    assert sorted((k, int(a)) for k, a in kinds) == [("activate", 2500), ("expire", 2500)]
