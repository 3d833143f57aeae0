"""Choice reward links through the services, on both databases: an order item of a value and a set
of products makes a link holding that value in its own ledger account; picks spend it on cards
(idempotent by key, concurrent double picks make one card); the rest stays; expiry is breakage for
the buyer with an event; items naming a country; the one-country rule; the ledger verifies."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from giftwell.domain.errors import InsufficientFunds, RewardGone, ValidationFailed
from giftwell.domain.ledger import AccountKind
from giftwell.domain.orders import Mode
from giftwell.services import sweep
from giftwell.services.delivery import choice, choice_picks
from giftwell.services.funding import balances
from giftwell.services.ledger import verify
from giftwell.services.orders import placing
from giftwell.services.orders.placing import ChoiceRequest, ItemRequest, OrderRequest
from giftwell.store.models import Card, ChoicePick, Event, LedgerAccount, Transfer
from tests import factories

START = 1_000_000


async def ledger_ok(rt) -> None:
    async with rt.uow() as uow:
        report = await verify.verify(uow)
    assert report.ok, report.problems


@pytest.fixture
async def buyer(rt):
    t = await factories.buyer(rt, funds=START)
    await factories.product(rt, id="books-usd", name="Books", denominations={"values": [1000, 2500, 5000]})
    await factories.product(rt, id="music-usd", name="Music", countries=["US", "CA"])
    await factories.product(rt, id="euro-eur", name="Euro", currency="EUR", countries=["DE"])
    await factories.product(rt, id="gone-usd", name="Gone", active=False)
    return t


async def place(rt, t, items, *, reference="c1", mode=Mode.AUTO, **kw):
    async with rt.uow() as uow:
        view = await placing.place_order(
            uow, account_id=t.account_id, req=OrderRequest(reference, items, mode=mode, **kw), reveal=False
        )
        await uow.commit()
    return view


async def links(rt, t, order_id):
    async with rt.reader() as uow:
        return await choice.for_order(uow, account_id=t.account_id, order_id=order_id)


async def funding(rt, t) -> int:
    async with rt.reader() as uow:
        found = await balances.balances(uow, account_id=t.account_id)
    return next(b.available for b in found if b.currency == "USD")


async def test_a_choice_item_makes_a_link_holding_its_value(rt, buyer):
    items = [ItemRequest("", 6000, quantity=2, choice=ChoiceRequest(["books-usd", "music-usd"]))]
    order = await place(rt, buyer, items)
    assert order.status.value == "completed"
    assert order.total_price == 12000
    assert order.items[0].product is None
    assert order.items[0].choice == {"products": ["books-usd", "music-usd"], "expires_at": None}
    found = await links(rt, buyer, order.id)
    assert len(found) == 2
    for link in found:
        assert (link.initial_balance, link.unspent_balance, link.currency, link.status) == (6000, 6000, "USD", "active")
        assert link.products == ["books-usd", "music-usd"]
        assert link.url.startswith(f"{rt.settings.base_url}/r/")
        assert link.expires_at == rt.clock() + choice.DEFAULT_LIFETIME
    assert found[0].token != found[1].token
    # The buyer paid the value, once; each link is a guarded account of its own.
    assert await funding(rt, buyer) == START - 12000
    async with rt.reader() as uow:
        kinds = (
            await uow.conn.execute(
                sa.select(LedgerAccount.kind, LedgerAccount.balance).where(
                    LedgerAccount.id.in_(await _accounts(uow, found))
                )
            )
        ).all()
    assert sorted(kinds) == [(AccountKind.CHOICE_LINK.value, 6000)] * 2
    await ledger_ok(rt)


async def _accounts(uow, found):
    from giftwell.store.models import ChoiceLink

    q = sa.select(ChoiceLink.ledger_account_id).where(ChoiceLink.id.in_([f.id for f in found]))
    return [r[0] for r in (await uow.conn.execute(q)).all()]


async def test_picks_spend_the_link_and_the_rest_stays(rt, buyer):
    order = await place(rt, buyer, [ItemRequest("", 6000, choice=ChoiceRequest(["books-usd", "music-usd"]))])
    (link,) = await links(rt, buyer, order.id)
    async with rt.uow() as uow:
        opened = await choice_picks.open_link(uow, link.token)
        await uow.commit()
    assert opened.open_count == 1
    assert opened.first_opened_at == rt.clock()
    first = await choice_picks.pick_once(rt, link.token, pick_key="0", product_id="books-usd", amount=2500)
    assert first.link.unspent_balance == 3500
    assert first.card_url.startswith(f"{rt.settings.base_url}/r/")
    # The same key again: the first pick, whatever the body says.
    again = await choice_picks.pick_once(rt, link.token, pick_key="0", product_id="music-usd", amount=3500)
    assert again.pick == first.pick
    assert again.link.unspent_balance == 3500
    # More than is left, an amount the product does not sell, a product the link does not offer.
    with pytest.raises(InsufficientFunds):
        await choice_picks.pick_once(rt, link.token, pick_key="1", product_id="music-usd", amount=3510)
    with pytest.raises(ValidationFailed) as bad:
        await choice_picks.pick_once(rt, link.token, pick_key="1", product_id="books-usd", amount=2000)
    assert bad.value.param == "amount"
    with pytest.raises(ValidationFailed) as bad:
        await choice_picks.pick_once(rt, link.token, pick_key="1", product_id="acme-usd", amount=1000)
    assert bad.value.param == "product"
    second = await choice_picks.pick_once(rt, link.token, pick_key="1", product_id="music-usd", amount=3500)
    assert second.link.unspent_balance == 0
    assert [(p.product, p.amount) for p in second.link.picks] == [("books-usd", 2500), ("music-usd", 3500)]
    async with rt.reader() as uow:
        cards = (
            await uow.conn.execute(
                sa.select(Card.id, Card.currency, Card.initial_amount).where(
                    Card.id.in_([p.card_id for p in second.link.picks])
                )
            )
        ).all()
        paid = (
            (
                await uow.conn.execute(
                    sa.select(Transfer.amount).where(Transfer.kind == "choice_pick").order_by(Transfer.amount)
                )
            )
            .scalars()
            .all()
        )
        picked = (await uow.conn.execute(sa.select(Event.type).where(Event.type == "reward.picked"))).all()
    assert sorted(int(c.initial_amount) for c in cards) == [2500, 3500]
    assert list(paid) == [2500, 3500]
    assert len(picked) == 2
    await ledger_ok(rt)


async def test_a_double_pick_at_once_makes_one_card(rt, buyer):
    order = await place(rt, buyer, [ItemRequest("", 5000, choice=ChoiceRequest(["books-usd"]))])
    (link,) = await links(rt, buyer, order.id)
    results = await asyncio.gather(
        *[choice_picks.pick_once(rt, link.token, pick_key="0", product_id="books-usd", amount=2500) for _ in range(4)]
    )
    assert len({r.pick.id for r in results}) == 1
    async with rt.reader() as uow:
        n = (await uow.conn.execute(sa.select(sa.func.count()).select_from(ChoicePick))).scalar_one()
    assert n == 1
    (after,) = await links(rt, buyer, order.id)
    assert after.unspent_balance == 2500
    await ledger_ok(rt)


async def test_expiry_is_breakage_for_the_buyer(rt, buyer, clock):
    ends = rt.clock() + timedelta(days=2)
    items = [ItemRequest("", 5000, choice=ChoiceRequest(["books-usd"], expires_at=ends))]
    order = await place(rt, buyer, items)
    (link,) = await links(rt, buyer, order.id)
    await choice_picks.pick_once(rt, link.token, pick_key="0", product_id="books-usd", amount=1000)
    clock.advance(days=3)
    with pytest.raises(RewardGone):
        await choice_picks.pick_once(rt, link.token, pick_key="1", product_id="books-usd", amount=1000)
    result = await sweep.sweep_once(rt)
    assert result.links_expired == 1
    assert (await sweep.sweep_once(rt)).links_expired == 0
    (gone,) = await links(rt, buyer, order.id)
    assert (gone.status, gone.unspent_balance, gone.initial_balance) == ("expired", 0, 5000)
    async with rt.reader() as uow:
        breakage = (
            await uow.conn.execute(
                sa.select(Transfer.amount, LedgerAccount.account_id, LedgerAccount.kind)
                .join(LedgerAccount, LedgerAccount.id == Transfer.credit_account_id)
                .where(Transfer.kind == "expire", Transfer.reference == link.id)
            )
        ).all()
        event = (await uow.conn.execute(sa.select(Event).where(Event.type == "reward.expired"))).one()
    assert [(int(b.amount), b.account_id, b.kind) for b in breakage] == [(4000, buyer.account_id, "breakage")]
    assert event.account_id == buyer.account_id
    assert event.data["breakage"] == 4000
    async with rt.uow() as uow:
        with pytest.raises(RewardGone):
            await choice_picks.open_link(uow, link.token)
    await ledger_ok(rt)


async def test_a_country_alone_offers_every_product_sold_there(rt, buyer):
    order = await place(rt, buyer, [ItemRequest("", 2000, country="US")])
    (link,) = await links(rt, buyer, order.id)
    # Active, in USD, sold in the US (or anywhere); not the inactive one, not the euro one.
    assert link.products == ["acme-usd", "books-usd", "music-usd"]
    assert link.country == "US"
    order = await place(rt, buyer, [ItemRequest("", 2000, country="CA", currency="USD")], reference="c2")
    (link,) = await links(rt, buyer, order.id)
    assert link.products == ["music-usd"]  # books-usd, like acme-usd, is sold in the US only


async def test_choice_items_refused_naming_the_field(rt, buyer):
    cases = [
        (ItemRequest("", 2000, country="FR"), "items[0].choice.products"),  # EUR, but nothing sold in FR
        (ItemRequest("", 2000, choice=ChoiceRequest(["nope"])), "items[0].choice.products[0]"),
        (ItemRequest("", 2000, choice=ChoiceRequest(["books-usd", "gone-usd"])), "items[0].choice.products[1]"),
        (ItemRequest("", 2000, choice=ChoiceRequest(["books-usd", "euro-eur"])), "items[0].choice.products[1]"),
        (ItemRequest("", 2000), "items[0].product"),
        (ItemRequest("", 2000, country="gb"), "items[0].country"),
        (ItemRequest("", 0, country="US"), "items[0].amount"),
        (ItemRequest("", 2000, country="US", design="x"), "items[0].design"),
    ]
    for n, (item, param) in enumerate(cases):
        with pytest.raises(ValidationFailed) as exc:
            await place(rt, buyer, [item], reference=f"bad-{n}")
        assert exc.value.param == param, (item, exc.value.message)
    assert await funding(rt, buyer) == START


async def test_the_one_country_rule_names_the_items_that_differ(rt, buyer):
    items = [
        ItemRequest("", 1000, country="US"),
        ItemRequest("", 1000, country="CA", currency="USD"),
        ItemRequest("", 1000, country="US"),
        ItemRequest("", 1000, country="CA", currency="USD"),
    ]
    with pytest.raises(ValidationFailed) as exc:
        await place(rt, buyer, items, one_country=True)
    assert exc.value.param == "items[1].country"
    assert exc.value.fields["differs"] == [1, 3]
    # Without the rule, mixed countries of one currency are one order.
    order = await place(rt, buyer, items)
    assert len(await links(rt, buyer, order.id)) == 4
    await ledger_ok(rt)


async def test_a_large_choice_order_is_made_in_the_background(rt, buyer):
    from giftwell.services.orders import fulfilment

    order = await place(rt, buyer, [ItemRequest("", 1000, quantity=30, country="US")], mode=Mode.ASYNC)
    assert order.status.value == "pending"
    assert await links(rt, buyer, order.id) == []
    assert (await fulfilment.fulfil(rt, order.id, batch_size=7)).value == "completed"
    found = await links(rt, buyer, order.id)
    assert len(found) == 30
    assert len({f.token for f in found}) == 30
    assert await funding(rt, buyer) == START - 30_000
    await ledger_ok(rt)


async def test_cancelling_returns_links_never_picked_and_keeps_used_ones(rt, buyer):
    from giftwell.domain.errors import InvalidState
    from giftwell.services.orders import cancelling

    order = await place(rt, buyer, [ItemRequest("", 3000, quantity=3, choice=ChoiceRequest(["books-usd"]))])
    used, fresh, other = await links(rt, buyer, order.id)
    await choice_picks.pick_once(rt, used.token, pick_key="0", product_id="books-usd", amount=1000)
    assert await funding(rt, buyer) == START - 9000
    async with rt.uow() as uow:
        with pytest.raises(InvalidState) as exc:
            await cancelling.cancel(uow, account_id=buyer.account_id, order_id=order.id, unit_ids=[used.unit_id])
    assert exc.value.param == "cards"
    async with rt.uow() as uow:
        n = await cancelling.cancel(uow, account_id=buyer.account_id, order_id=order.id, unit_ids=[fresh.unit_id])
        await uow.commit()
    assert n == 1
    assert await funding(rt, buyer) == START - 6000
    with pytest.raises(RewardGone):
        await choice_picks.pick_once(rt, fresh.token, pick_key="0", product_id="books-usd", amount=1000)
    # The whole order: the used link stays (its card was given), the other goes.
    async with rt.uow() as uow:
        n = await cancelling.cancel(uow, account_id=buyer.account_id, order_id=order.id)
        await uow.commit()
    assert n == 1
    assert await funding(rt, buyer) == START - 3000
    after = {v.id: (v.status, v.unspent_balance) for v in await links(rt, buyer, order.id)}
    assert after == {used.id: ("active", 2000), fresh.id: ("cancelled", 0), other.id: ("cancelled", 0)}
    # A cancelled link is not expired again by the sweep.
    assert (await sweep.sweep_once(rt)).links_expired == 0
    await ledger_ok(rt)


async def test_a_pick_and_a_cancel_at_once_never_both_pass(rt, buyer):
    from giftwell.services.orders import cancelling

    order = await place(rt, buyer, [ItemRequest("", 3000, choice=ChoiceRequest(["books-usd"]))])
    (link,) = await links(rt, buyer, order.id)

    async def cancel():
        async with rt.uow() as uow:
            n = await cancelling.cancel(uow, account_id=buyer.account_id, order_id=order.id, unit_ids=[link.unit_id])
            await uow.commit()
        return n

    async def pick():
        return await choice_picks.pick_once(rt, link.token, pick_key="0", product_id="books-usd", amount=1000)

    results = await asyncio.gather(cancel(), pick(), return_exceptions=True)
    picked = not isinstance(results[1], BaseException)
    cancelled = results[0] == 1
    assert picked != cancelled, results
    await ledger_ok(rt)


async def test_giftwell_ledger_verify_passes_after_links_picks_expiry_and_cancel(
    rt, buyer, clock, tmp_path, monkeypatch
):
    import json

    from typer.testing import CliRunner

    from giftwell.cli.main import app
    from giftwell.services.orders import cancelling
    from tests.conftest import TEST_SECRET

    ends = rt.clock() + timedelta(days=1)
    order = await place(
        rt, buyer, [ItemRequest("", 4000, quantity=3, choice=ChoiceRequest(["books-usd", "music-usd"], ends))]
    )
    a, b, c = await links(rt, buyer, order.id)
    await choice_picks.pick_once(rt, a.token, pick_key="0", product_id="books-usd", amount=2500)
    await choice_picks.pick_once(rt, a.token, pick_key="1", product_id="music-usd", amount=1500)
    await choice_picks.pick_once(rt, b.token, pick_key="0", product_id="music-usd", amount=1000)
    async with rt.uow() as uow:
        await cancelling.cancel(uow, account_id=buyer.account_id, order_id=order.id, unit_ids=[c.unit_id])
        await uow.commit()
    clock.advance(days=2)
    # a (spent: nothing to break) and b (3000 left: breakage); c was cancelled.
    assert (await sweep.sweep_once(rt)).links_expired == 2
    workdir = tmp_path / "cli"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    env = {
        "GIFTWELL_DATABASE_URL": rt.settings.resolved_database_url,
        "GIFTWELL_DATA_DIR": str(tmp_path / "var"),
        "GIFTWELL_SECRET_KEY": TEST_SECRET,
        "GIFTWELL_LOG_LEVEL": "warning",
    }
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["ledger", "verify", "--json"], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["problems"] == []


async def test_a_link_worth_less_than_every_products_smallest_card_is_refused(rt, buyer):
    # books-usd sells 10, 25 or 50; music-usd 5 to 500: 4.99 could buy nothing.
    with pytest.raises(ValidationFailed) as exc:
        await place(rt, buyer, [ItemRequest("", 499, choice=ChoiceRequest(["books-usd", "music-usd"]))])
    assert (exc.value.param, exc.value.fields["rule"], exc.value.fields["min"]) == (
        "items[0].amount",
        "below_minimum",
        500,
    )
    with pytest.raises(ValidationFailed):
        await place(rt, buyer, [ItemRequest("", 999, choice=ChoiceRequest(["books-usd"]))])
    order = await place(rt, buyer, [ItemRequest("", 500, choice=ChoiceRequest(["books-usd", "music-usd"]))])
    assert len(await links(rt, buyer, order.id)) == 1
