"""Funding sources through the services, on both databases: a credit line drawn down by orders
and refused past its limit, restored by settlement, its limit changed (never below what is in
use), orders on a named or default source, and the receipts of every movement summing to the
statement. `ledger verify` (with its credit-line checks) passes after each test."""

from __future__ import annotations

import pytest

from giftwell.domain.errors import InsufficientFunds, NotFound, ValidationFailed
from giftwell.domain.funding import ReceiptKind
from giftwell.domain.orders import Mode
from giftwell.services.access import accounts
from giftwell.services.funding import balances, credit, receipts, sources
from giftwell.services.ledger import verify
from giftwell.services.orders import cancelling, fulfilment, placing
from giftwell.services.orders.placing import ItemRequest, OrderRequest
from tests import factories

PRICE = 975  # 1000 less 2.5%


@pytest.fixture(autouse=True)
async def _ledger_verifies(rt):
    yield
    async with rt.uow() as uow:
        report = await verify.verify(uow)
    assert report.ok, report.problems


async def step(rt, fn):
    async with rt.uow() as uow:
        out = await fn(uow)
        await uow.commit()
        return out


async def order(rt, t, *, cards=1, source=None, reference="r1", mode=Mode.AUTO):
    req = OrderRequest(reference, [ItemRequest("acme-usd", 1000, cards)], mode=mode, funding_source=source)
    return await step(rt, lambda uow: placing.place_order(uow, account_id=t.account_id, req=req))


async def line_of(rt, t):
    found = await step(rt, lambda uow: sources.list_sources(uow, account_id=t.account_id))
    return next(s for s in found if s.kind.value == "credit_line")


async def test_a_credit_line_is_drawn_down_refused_past_its_limit_and_restored_by_settlement(rt):
    t = await factories.buyer(rt, funds=0)
    line = await step(rt, lambda uow: credit.set_credit_line(uow, account_id=t.account_id, currency="USD", limit=3000))
    assert (line.credit_limit, line.state.owed, line.state.balance, line.state.available) == (3000, 0, 0, 3000)
    assert line.default is False  # the prepaid balance stays the default until told otherwise

    o = await order(rt, t, cards=2, source=line.id)
    assert (o.status.value, o.charged, o.funding_source) == ("completed", 2 * PRICE, line.id)
    line = await line_of(rt, t)
    assert (line.state.owed, line.state.balance, line.state.available) == (2 * PRICE, -2 * PRICE, 3000 - 2 * PRICE)

    # Past the limit: refused, nothing reserved or recorded.
    with pytest.raises(InsufficientFunds) as refused:
        await order(rt, t, cards=2, source=line.id, reference="r2")
    assert refused.value.fields["available"] == 3000 - 2 * PRICE
    assert refused.value.fields["funding_source"] == line.id
    assert (await line_of(rt, t)).state.owed == 2 * PRICE

    # A payment restores it; one more than is owed is refused.
    paid = await step(rt, lambda uow: credit.settle(uow, account_id=t.account_id, currency="USD", amount=PRICE))
    assert (paid.kind, paid.amount, paid.funding_source_id) == (ReceiptKind.SETTLEMENT, PRICE, line.id)
    assert (await line_of(rt, t)).state.owed == PRICE
    with pytest.raises(ValidationFailed) as over:
        await step(rt, lambda uow: credit.settle(uow, account_id=t.account_id, currency="USD", amount=PRICE + 1))
    assert (over.value.param, over.value.fields["owed"]) == ("amount", PRICE)
    await order(rt, t, cards=2, source=line.id, reference="r2")  # now within the limit
    assert (await line_of(rt, t)).state.owed == 3 * PRICE


async def test_the_limit_changes_but_never_below_what_is_owed_and_reserved(rt):
    t = await factories.buyer(rt, funds=0)
    line = await step(rt, lambda uow: credit.set_credit_line(uow, account_id=t.account_id, currency="USD", limit=5000))
    await order(rt, t, cards=2, source=line.id)  # owes 1950
    # A background order reserves 975 more (pending until a worker fulfils it).
    pending = await order(rt, t, cards=1, source=line.id, reference="r2", mode=Mode.ASYNC)
    in_use = 3 * PRICE
    with pytest.raises(ValidationFailed) as low:
        await step(
            rt, lambda uow: credit.set_credit_line(uow, account_id=t.account_id, currency="USD", limit=in_use - 1)
        )
    assert (low.value.param, low.value.fields["in_use"]) == ("limit", in_use)
    line = await step(
        rt, lambda uow: credit.set_credit_line(uow, account_id=t.account_id, currency="USD", limit=in_use)
    )
    assert (line.credit_limit, line.state.available) == (in_use, 0)
    await fulfilment.fulfil(rt, pending.id)
    line = await step(
        rt, lambda uow: credit.set_credit_line(uow, account_id=t.account_id, currency="USD", limit=10_000)
    )
    assert (line.credit_limit, line.state.owed, line.state.available) == (10_000, in_use, 10_000 - in_use)


async def test_orders_pay_from_the_default_source_or_the_one_they_name(rt):
    t = await factories.buyer(rt, funds=10_000)
    (prepaid,) = await step(rt, lambda uow: sources.list_sources(uow, account_id=t.account_id))
    assert (prepaid.kind.value, prepaid.default, prepaid.state.balance) == ("prepaid", True, 10_000)
    line = await step(
        rt,
        lambda uow: credit.set_credit_line(uow, account_id=t.account_id, currency="USD", limit=5000, default=True),
    )
    assert line.default
    assert (await order(rt, t)).funding_source == line.id
    assert (await order(rt, t, source=prepaid.id, reference="r2")).funding_source == prepaid.id
    listed = {s.id: s for s in await step(rt, lambda uow: sources.list_sources(uow, account_id=t.account_id))}
    assert (listed[prepaid.id].default, listed[line.id].default) == (False, True)
    assert (listed[prepaid.id].state.balance, listed[line.id].state.owed) == (10_000 - PRICE, PRICE)
    # Back to the prepaid balance as the default.
    await step(
        rt,
        lambda uow: credit.set_credit_line(uow, account_id=t.account_id, currency="USD", limit=5000, default=False),
    )
    assert (await order(rt, t, reference="r3")).funding_source == prepaid.id

    other = await factories.tenant(rt)
    with pytest.raises(NotFound) as foreign:
        await step(
            rt,
            lambda uow: placing.place_order(
                uow,
                account_id=other.account_id,
                req=OrderRequest("x", [ItemRequest("acme-usd", 1000)], funding_source=line.id),
            ),
        )
    assert foreign.value.param == "funding_source"
    eur = await step(rt, lambda uow: sources.prepaid(uow, account_id=t.account_id, currency="EUR"))
    with pytest.raises(ValidationFailed) as currency:
        await order(rt, t, source=eur.id, reference="r4")
    assert (currency.value.param, currency.value.fields["rule"]) == ("funding_source", "currency")


async def test_the_operator_gets_no_credit_line_and_settles_nothing_without_one(rt):
    t = await factories.buyer(rt, funds=0)
    op = await step(rt, accounts.operator_account)
    with pytest.raises(ValidationFailed) as operator:
        await step(rt, lambda uow: credit.set_credit_line(uow, account_id=op.id, currency="USD", limit=100))
    assert operator.value.param == "account"
    with pytest.raises(ValidationFailed) as none:
        await step(rt, lambda uow: credit.settle(uow, account_id=t.account_id, currency="USD", amount=100))
    assert none.value.param == "currency"
    for bad in (-1, 2**53, True, "10"):
        with pytest.raises(ValidationFailed) as wrong:
            await step(
                rt, lambda uow, bad=bad: credit.set_credit_line(uow, account_id=t.account_id, currency="USD", limit=bad)
            )
        assert wrong.value.param == "limit"


async def test_receipts_sum_to_the_statement(rt):
    t = await factories.buyer(rt, funds=20_000)
    line = await step(rt, lambda uow: credit.set_credit_line(uow, account_id=t.account_id, currency="USD", limit=9000))
    prepaid_order = await order(rt, t, cards=3)
    credit_order = await order(rt, t, cards=4, source=line.id, reference="r2")
    big = await order(rt, t, cards=12, reference="r3", mode=Mode.ASYNC)
    await fulfilment.fulfil(rt, big.id, batch_size=5)  # three charges, three receipts
    first = prepaid_order.items[0].cards[0].id
    await step(
        rt, lambda uow: cancelling.cancel(uow, account_id=t.account_id, order_id=prepaid_order.id, unit_ids=[first])
    )
    two = [c.id for c in credit_order.items[0].cards[:2]]
    await step(rt, lambda uow: cancelling.cancel(uow, account_id=t.account_id, order_id=credit_order.id, unit_ids=two))
    await step(rt, lambda uow: credit.settle(uow, account_id=t.account_id, currency="USD", amount=PRICE))

    got = await step(rt, lambda uow: receipts.list_receipts(uow, account_id=t.account_id, limit=100))
    statement = await step(rt, lambda uow: balances.statement(uow, account_id=t.account_id, limit=100))
    assert not got.has_more
    assert not statement.has_more
    posted = [x for x in statement.data if x.status.value == "posted" and x.kind.value != "credit_limit"]
    # One receipt per posted movement, and the same amount.
    assert sorted((r.transfer_id, r.amount) for r in got.data) == sorted((x.id, x.amount) for x in posted)
    kinds = sorted(r.kind.value for r in got.data)
    assert kinds == sorted(
        ["top_up", "charge", "charge", "charge", "charge", "charge", "refund", "refund", "settlement"]
    )
    # Per source, the receipts' signed sum is what the source gained over the statement.
    by_source = {s.id: s for s in await step(rt, lambda uow: sources.list_sources(uow, account_id=t.account_id))}
    for source_id, source in by_source.items():
        signed = sum(r.signed_amount for r in got.data if r.funding_source_id == source_id)
        limit = source.state.limit or 0
        assert signed == source.state.ledger_balance - limit, source
    # Lines sum to each receipt and name the items.
    for r in got.data:
        assert sum(line["amount"] for line in r.lines) == r.amount
    charge = next(r for r in got.data if r.order_id == credit_order.id and r.kind is ReceiptKind.CHARGE)
    assert [(x["product"], x["quantity"], x["unit_amount"], x["face_value"]) for x in charge.lines] == [
        ("acme-usd", 4, PRICE, 1000)
    ]
    assert charge.funding_source_id == line.id
    first_charge = await step(rt, lambda uow: receipts.first_charge(uow, account_id=t.account_id, order_id=big.id))
    big_charges = await step(
        rt, lambda uow: receipts.list_receipts(uow, account_id=t.account_id, order_id=big.id, kind=ReceiptKind.CHARGE)
    )
    assert [r.amount for r in big_charges.data] == [2 * PRICE, 5 * PRICE, 5 * PRICE]
    assert first_charge == big_charges.data[-1].id
