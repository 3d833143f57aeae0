"""Pure catalog and order rules: prices, denominations, fields, months, final statuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from giftwell.domain.catalog import Denominations, FieldType, PriceRule, RequiredField, add_months, check_fields
from giftwell.domain.errors import ValidationFailed
from giftwell.domain.orders import Mode, OrderStatus, final_status, item_status, sync_allowed


@pytest.mark.parametrize(
    ("face", "bps", "fee", "price"),
    [
        (1000, 250, 0, 975),  # 25.00 off exactly
        (1050, 250, 0, 1024),  # 26.25 off -> 26
        (1020, 250, 0, 994),  # 25.5 off -> 26 (half to even)
        (1060, 250, 0, 1034),  # 26.5 off -> 26 (half to even)
        (1000, 0, 50, 1050),  # a fee, no discount
        (999, 10_000, 0, 0),  # free
        (3, 5000, 1, 2),  # 1.5 off -> 2, plus 1
    ],
)
def test_price_half_even(face, bps, fee, price):
    assert PriceRule(bps, fee).price(face) == price


def test_price_rule_bounds():
    for bad in ({"discount_bps": -1}, {"discount_bps": 10_001}, {"fee": -1}, {"discount_bps": True}):
        with pytest.raises(ValidationFailed):
            PriceRule(**bad)


def test_range_denominations():
    d = Denominations(min=500, max=50000, step=100)
    assert d.check(500, param="a") == 500
    assert d.check(1700, param="a") == 1700
    for bad, rule in ((499, "range"), (50100, "range"), (550, "step")):
        with pytest.raises(ValidationFailed) as e:
            d.check(bad, param="items[0].amount")
        assert e.value.param == "items[0].amount"
        assert e.value.fields["rule"] == rule
    with pytest.raises(ValidationFailed):
        d.check(0, param="a")


def test_fixed_denominations():
    d = Denominations(values=(1000, 2500))
    assert d.check(2500, param="a") == 2500
    with pytest.raises(ValidationFailed) as e:
        d.check(2000, param="a")
    assert e.value.fields["rule"] == "values"
    with pytest.raises(ValidationFailed):
        Denominations(values=(1000,), min=1)
    with pytest.raises(ValidationFailed):
        Denominations(min=10, max=5)


def test_fields():
    spec = (
        RequiredField("f1", "mobile", FieldType.INPUT, required=True),
        RequiredField("f2", "size", FieldType.SELECT, required=False, options=("S", "M")),
    )
    assert check_fields(spec, {"f1": "+15550100", "f2": "M"}, param="items[0].fields") == {"f1": "+15550100", "f2": "M"}
    assert check_fields(spec, {"f1": "x"}, param="p") == {"f1": "x"}
    cases = [
        ({}, "items[0].fields.f1"),
        ({"f1": "x", "f2": "XL"}, "items[0].fields.f2"),
        ({"f1": 3}, "items[0].fields.f1"),
    ]
    cases.append(({"f1": "x", "nope": "1"}, "items[0].fields.nope"))
    for given, param in cases:
        with pytest.raises(ValidationFailed) as e:
            check_fields(spec, given, param="items[0].fields")
        assert e.value.param == param


def test_add_months_clamps_the_day():
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 24) == datetime(2028, 11, 15, tzinfo=UTC)
    assert add_months(datetime(2027, 12, 1, tzinfo=UTC), 1) == datetime(2028, 1, 1, tzinfo=UTC)


def test_statuses():
    assert final_status(issued=3, failed=0, cancelled=0) is OrderStatus.COMPLETED
    assert final_status(issued=2, failed=1, cancelled=0) is OrderStatus.PARTIAL
    assert final_status(issued=0, failed=3, cancelled=0) is OrderStatus.FAILED
    assert final_status(issued=0, failed=1, cancelled=2) is OrderStatus.CANCELLED
    assert item_status(pending=2, issued=0, failed=0, cancelled=0) == "pending"
    assert item_status(pending=2, issued=1, failed=0, cancelled=0) == "processing"
    assert sync_allowed(Mode.AUTO, 10)
    assert not sync_allowed(Mode.AUTO, 11)
    assert not sync_allowed(Mode.ASYNC, 1)
