"""Upstream supplier rules: names, base URLs, the derived reference, the polling schedule, and
how an upstream order's cards map onto our units. Pure."""

from __future__ import annotations

from datetime import date

import pytest

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.suppliers import (
    Part,
    PurchaseStatus,
    UpstreamCard,
    UpstreamOrder,
    check_base_url,
    check_kind,
    check_max_quantity,
    check_name,
    outcomes,
    part_of,
    poll_delay,
    reference_for,
)
from giftwell.domain.webhooks import x_signature, x_signature_valid


@pytest.mark.parametrize("name", ["b", "acme-upstream", "wizz_2", "a" * 40])
def test_good_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "house", "B", "-b", "b-", "a" * 41, "with space", None, 7])
def test_refused_names(name):
    with pytest.raises(ValidationFailed) as exc:
        check_name(name)
    assert exc.value.param == "name"


def test_base_urls_and_kinds():
    assert check_base_url("https://api.wizzgift.com/api/b2b/") == "https://api.wizzgift.com/api/b2b"
    assert check_base_url("http://10.0.0.5:8000/api/b2b") == "http://10.0.0.5:8000/api/b2b"
    for bad in ("ftp://x/api", "https:///api", "https://x/api?y=1", "https://x/api#f", "api.example/b2b", 5):
        with pytest.raises(ValidationFailed):
            check_base_url(bad)
    assert check_kind("wizzgift").value == "wizzgift"
    with pytest.raises(ValidationFailed, match="wizzgift"):
        check_kind("wegift")


def test_the_reference_is_derived_from_the_item():
    assert reference_for("oi_01ABC") == reference_for("oi_01ABC") == "gw-oi_01ABC"
    assert reference_for("oi_1") != reference_for("oi_2")
    # An item bought in several upstream orders: one reference per part, each derived again alike.
    assert [reference_for("oi_1", n, 3) for n in (1, 2, 3)] == ["gw-oi_1-1", "gw-oi_1-2", "gw-oi_1-3"]
    assert reference_for("oi_1", 1, 1) == "gw-oi_1"


def test_an_item_larger_than_the_upstream_takes_is_bought_in_parts():
    # 25 cards, 10 an order: units 0-9, 10-19, 20-24.
    parts = {part_of(i, item_quantity=25, size=10) for i in range(25)}
    assert sorted(parts, key=lambda p: p.number) == [
        Part(1, 3, 10, 0, 10),
        Part(2, 3, 10, 10, 10),
        Part(3, 3, 10, 20, 5),
    ]
    assert part_of(24, item_quantity=25, size=25) == Part(1, 1, 25, 0, 25)
    assert part_of(0, item_quantity=1, size=25) == Part(1, 1, 25, 0, 1)
    for index, quantity in ((25, 25), (-1, 25)):
        with pytest.raises(ValueError):
            part_of(index, item_quantity=quantity, size=10)
    assert check_max_quantity(1) == 1
    assert check_max_quantity(10_000) == 10_000
    for bad in (0, 10_001, True, 2.0, "25", None):
        with pytest.raises(ValidationFailed) as exc:
            check_max_quantity(bad)
        assert exc.value.param == "max_quantity"


def test_polls_back_off_to_the_cap():
    assert [poll_delay(n, base=5, cap=60) for n in range(6)] == [5, 10, 20, 40, 60, 60]
    assert poll_delay(10_000, base=5, cap=600) == 600


def card(status="completed", code="C"):
    return UpstreamCard(status=status, code=code, expiry_date=date(2030, 1, 1))


def test_outcomes_match_units_to_cards_in_order():
    done = UpstreamOrder("o", "r", "completed", 2, (card(code="A"), card(code="B")))
    assert [c.code for c in outcomes(done, 2)] == ["A", "B"]
    partial = UpstreamOrder("o", "r", "partial", 3, (card(code="A"), card("failed"), card(code="C")))
    assert [c and c.code for c in outcomes(partial, 3)] == ["A", None, "C"]
    short = UpstreamOrder("o", "r", "partial", 3, (card(code="A"),))
    assert [c and c.code for c in outcomes(short, 3)] == ["A", None, None]
    failed = UpstreamOrder("o", "r", "failed", 2, (card(), card()))
    assert outcomes(failed, 2) == [None, None]
    assert failed.final is PurchaseStatus.FAILED
    assert UpstreamOrder("o", "r", "processing").final is None
    assert UpstreamOrder("o", "r", "pending").final is None
    assert UpstreamOrder("o", "r", "placed").final is None


def test_x_signature_is_checked_as_the_seeds_receiver_checks_it():
    secret = "whsec_abc"
    compact = b'{"id":"o","status":"completed"}'
    spaced = b'{"id": "o", "status": "completed"}'
    assert x_signature_valid(secret, compact, x_signature(secret, compact))
    # Re-serialised on the way (JSON.stringify(JSON.parse(body))), the signature still holds.
    assert x_signature_valid(secret, spaced, x_signature(secret, compact))
    assert x_signature_valid(secret, compact, x_signature(secret, compact).upper())
    assert not x_signature_valid(secret, compact, x_signature("whsec_other", compact))
    assert not x_signature_valid(secret, b"not json", "00")
