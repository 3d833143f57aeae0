"""Orders by the client's reference (services/orders/references.py), on both databases: a
resubmit with the same request is a replay (one order, charged once), with another request a
duplicate, also when the two race; codes withheld for cards Giftwell delivers; reversal of an
unused order (refunded), refused for a used card or past 24 hours, and shown again once done."""

from __future__ import annotations

import asyncio

import pytest

from giftwell.domain.errors import Conflict, InvalidState, NotFound
from giftwell.services.access import accounts
from giftwell.services.cards import money
from giftwell.services.funding import balances
from giftwell.services.ledger import verify
from giftwell.services.orders import references
from giftwell.services.orders.placing import ItemRequest, OrderRequest
from tests import factories

START = 100_000
PRICE = 1950  # 2000 less 2.5%


def request(reference: str = "wp-1", *, fingerprint: str = "f1", delivered: bool = False) -> OrderRequest:
    delivery = {"channel": "email"} if delivered else None
    recipient = {"email": "ada@example.com"} if delivered else {}
    items = [
        ItemRequest("acme-usd", 2000, 2, recipient=recipient, delivery=delivery, vendor_data={"clientItemId": "1"}),
        ItemRequest("acme-usd", 2000, 1),
    ]
    return OrderRequest(reference, items, vendor_data={"storeId": "6625"}, fingerprint=fingerprint)


async def funding(rt, t) -> tuple[int, int]:
    async with rt.uow() as uow:
        b = {b.currency: b for b in await balances.balances(uow, account_id=t.account_id)}["USD"]
        assert (await verify.verify(uow)).ok
    return b.balance, b.available


async def test_a_resubmit_is_a_replay_and_another_request_a_duplicate(rt):
    t = await factories.buyer(rt, funds=START)
    first = await references.submit(rt, account_id=t.account_id, req=request())
    assert not first.replayed
    assert first.order.vendor_data == {"storeId": "6625"}
    assert first.order.items[0].vendor_data == {"clientItemId": "1"}
    again = await references.submit(rt, account_id=t.account_id, req=request())
    assert again.replayed
    assert again.order.id == first.order.id
    assert [c.code for i in again.order.items for c in i.cards] == [c.code for i in first.order.items for c in i.cards]
    assert await funding(rt, t) == (START - 3 * PRICE, START - 3 * PRICE)
    with pytest.raises(Conflict) as exc:
        await references.submit(rt, account_id=t.account_id, req=request(fingerprint="f2"))
    assert (exc.value.param, exc.value.fields["rule"]) == ("reference", "duplicate_reference")


@pytest.mark.parametrize("same", [True, False], ids=["same-request", "other-request"])
async def test_two_submits_racing_with_one_reference(rt, same):
    t = await factories.buyer(rt, funds=START)
    outcomes = await asyncio.gather(
        references.submit(rt, account_id=t.account_id, req=request("race", fingerprint="a")),
        references.submit(rt, account_id=t.account_id, req=request("race", fingerprint="a" if same else "b")),
        return_exceptions=True,
    )
    placed = [o for o in outcomes if isinstance(o, references.Submitted) and not o.replayed]
    assert len(placed) == 1, outcomes
    other = next(o for o in outcomes if o is not placed[0])
    if same:
        assert isinstance(other, references.Submitted)
        assert other.replayed
        assert other.order.id == placed[0].order.id
    else:
        assert isinstance(other, Conflict)
        assert other.fields["rule"] == "duplicate_reference"
    assert await funding(rt, t) == (START - 3 * PRICE, START - 3 * PRICE)


async def test_codes_are_withheld_for_cards_giftwell_delivers(rt):
    t = await factories.buyer(rt, funds=START)
    done = await references.submit(rt, account_id=t.account_id, req=request(delivered=True))
    delivered, own = done.order.items
    assert [(c.status, c.code, c.pin, c.link) for c in delivered.cards] == [("issued", None, None, None)] * 2
    assert all(c.code and c.link for c in own.cards)
    shown = await references.show(rt, account_id=t.account_id, reference="wp-1")
    assert [c.code for c in shown.items[0].cards] == [None, None]
    assert shown.items[1].cards[0].code == own.cards[0].code
    with pytest.raises(NotFound) as exc:
        await references.show(rt, account_id=t.account_id, reference="nope")
    assert exc.value.param == "reference"


async def test_reversal_of_an_unused_order_refunds_it_once(rt):
    t = await factories.buyer(rt, funds=START)
    await references.submit(rt, account_id=t.account_id, req=request())
    done = await references.reverse(rt, account_id=t.account_id, reference="wp-1")
    assert (done.cancelled, done.already, done.order.status.value) == (3, False, "cancelled")
    assert done.order.refunded == 3 * PRICE
    assert {c.card_status for i in done.order.items for c in i.cards} == {"disabled"}
    assert await funding(rt, t) == (START, START)
    again = await references.reverse(rt, account_id=t.account_id, reference="wp-1")
    assert (again.cancelled, again.already) == (0, True)
    assert await funding(rt, t) == (START, START)


async def test_reversal_is_refused_for_a_used_card_and_after_24_hours(rt, clock):
    t = await factories.buyer(rt, funds=START)
    placed = await references.submit(rt, account_id=t.account_id, req=request())
    used = placed.order.items[1].cards[0]
    async with rt.uow() as uow:
        issuer = (await accounts.operator_account(uow)).id
        await money.redeem(uow, account_id=issuer, card_id=used.card_id, amount=500)
        await uow.commit()
    with pytest.raises(InvalidState) as exc:
        await references.reverse(rt, account_id=t.account_id, reference="wp-1")
    assert (exc.value.param, exc.value.fields["rule"], exc.value.fields["card"]) == ("cards", "card_used", used.id)
    assert await funding(rt, t) == (START - 3 * PRICE, START - 3 * PRICE)  # nothing was cancelled

    await references.submit(rt, account_id=t.account_id, req=request("wp-2"))
    clock.advance(hours=24, seconds=1)
    with pytest.raises(InvalidState) as late:
        await references.reverse(rt, account_id=t.account_id, reference="wp-2")
    assert late.value.fields["rule"] == "reversal_window"
    clock.advance(seconds=-2)  # just inside the window
    assert (await references.reverse(rt, account_id=t.account_id, reference="wp-2")).cancelled == 3
