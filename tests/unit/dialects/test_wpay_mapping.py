"""The Wpay dialect's pure translations: the request fingerprint (the same order however it is
written), a scheduled delivery date as a time, the 11th card, and amounts written exactly."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from giftwell.dialects.wpay import mapping, wire
from giftwell.dialects.wpay.wire import DeliverySchedule, WireError
from giftwell.domain.errors import ValidationFailed
from giftwell.domain.money import decimal_text

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


def parsed(text: str) -> dict:
    return wire.parse(text.encode())


def test_the_fingerprint_sees_values_not_spelling():
    a = parsed('{"clientOrderNumber": "A", "giftItemsInfo": [{"activationValue": 50, "quantity": 4}]}')
    b = parsed('{"giftItemsInfo":[{"quantity":4,"activationValue":50.00}],"clientOrderNumber":"A"}')
    c = parsed('{"clientOrderNumber": "A", "giftItemsInfo": [{"activationValue": 50.01, "quantity": 4}]}')
    d = parsed('{"clientOrderNumber": "A", "giftItemsInfo": [{"activationValue": "50", "quantity": 4}]}')
    assert mapping.fingerprint(a) == mapping.fingerprint(b)
    assert len({mapping.fingerprint(x) for x in (a, c, d)}) == 3


def test_numbers_are_read_exactly():
    data = parsed('{"x": 0.1000000000000000000000001, "y": 1e400}')
    assert data["x"] == Decimal("0.1000000000000000000000001")
    assert data["y"] == Decimal("1E+400")


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (None, None),
        (DeliverySchedule(scheduleType="NOW", deliveryDate=date(2020, 1, 1)), None),
        (DeliverySchedule(scheduleType="SCHEDULED", deliveryDate=date(2026, 12, 5)), None),  # today: now
        (
            DeliverySchedule(scheduleType="SCHEDULED", deliveryDate=date(2026, 12, 24)),
            datetime(2026, 12, 24, tzinfo=UTC),
        ),
    ],
)
def test_a_delivery_date_is_that_days_start_in_utc(schedule, expected):
    assert mapping._scheduled(schedule, NOW, "items[0]") == expected


@pytest.mark.parametrize("day", [None, date(2026, 12, 4)])
def test_a_scheduled_delivery_needs_a_day_not_yet_past(day):
    with pytest.raises(ValidationFailed) as exc:
        mapping._scheduled(DeliverySchedule(scheduleType="SCHEDULED", deliveryDate=day), NOW, "items[0]")
    assert exc.value.param == "items[0].delivery.scheduled_at"


def test_ten_cards_in_all_and_no_more():
    item = {"productId": "p", "currencyCode": "AUD", "activationValue": 50}
    ok = wire.read({"clientOrderNumber": "A", "giftItemsInfo": [{**item, "quantity": 5}, {**item, "quantity": 5}]})
    assert sum(i.quantity for i in ok.giftItemsInfo or []) == 10
    with pytest.raises(WireError) as exc:
        wire.read({"clientOrderNumber": "A", "giftItemsInfo": [{**item, "quantity": 5}, {**item, "quantity": 6}]})
    assert (exc.value.code, exc.value.field) == ("5338", "giftItemsInfo")


@pytest.mark.parametrize(
    ("value", "text"), [("50", "50"), ("50.00", "50"), ("40.50", "40.5"), ("0.001", "0.001"), ("-0", "0")]
)
def test_decimal_text_is_shortest_and_exact(value, text):
    assert decimal_text(Decimal(value)) == text


def test_amounts_in_answers_keep_the_currencys_digits():
    from giftwell.dialects.wpay.errors import json_response

    body = json.loads(json_response({"a": mapping.major(5000, "AUD"), "b": mapping.major(5, "JPY")}).body)
    assert body == {"a": 50.0, "b": 5}
    assert json_response({"a": mapping.major(5000, "AUD")}).body == b'{"a":50.00}'
