"""Upstream supplier rules: names, base URLs, the derived reference, the polling schedule, and
how an upstream order's cards map onto our units. Pure."""

from __future__ import annotations

from datetime import date

import pytest

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.suppliers import (
    PurchaseStatus,
    UpstreamCard,
    UpstreamOrder,
    check_base_url,
    check_kind,
    check_name,
    outcomes,
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
