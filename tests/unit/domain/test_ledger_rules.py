"""Posting rules: which side a card is on for each transfer kind, and the capture/refund bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.ledger import (
    AccountKind,
    CardPosting,
    Side,
    TransferKind,
    card_posting,
    partial_capture,
    refundable,
    require_positive,
)
from giftwell.domain.money import MAX_AMOUNT


@pytest.mark.parametrize(
    ("kind", "side", "system"),
    [
        (TransferKind.ACTIVATE, Side.CREDIT, AccountKind.ISSUANCE),
        (TransferKind.RELOAD, Side.CREDIT, AccountKind.ISSUANCE),
        (TransferKind.REDEEM, Side.DEBIT, AccountKind.REDEMPTION),
        (TransferKind.REFUND, Side.CREDIT, AccountKind.REDEMPTION),
        (TransferKind.EXPIRE, Side.DEBIT, AccountKind.BREAKAGE),
    ],
)
def test_card_posting_for_each_kind(kind, side, system):
    assert card_posting(kind) == CardPosting(side, system)


def test_refund_reverses_redeem_through_the_same_system_account():
    redeem, refund = card_posting(TransferKind.REDEEM), card_posting(TransferKind.REFUND)
    assert redeem.system is refund.system
    assert redeem.card_side is not refund.card_side


@pytest.mark.parametrize(
    ("signed", "side"), [(1, Side.CREDIT), (500, Side.CREDIT), (-1, Side.DEBIT), (-500, Side.DEBIT)]
)
def test_adjustment_takes_its_side_from_the_sign(signed, side):
    assert card_posting(TransferKind.ADJUST, signed_amount=signed) == CardPosting(side, AccountKind.ADJUSTMENT)


@pytest.mark.parametrize("signed", [0, None])
def test_adjustment_of_nothing_is_refused(signed):
    with pytest.raises(ValidationFailed) as exc:
        card_posting(TransferKind.ADJUST, signed_amount=signed)
    assert exc.value.param == "amount"


@pytest.mark.parametrize(
    "kind",
    [TransferKind.TRANSFER, TransferKind.FUND, TransferKind.CHARGE, TransferKind.CREDIT_LIMIT, TransferKind.SETTLE],
)
def test_kinds_without_a_system_side_are_not_card_postings(kind):
    with pytest.raises(ValueError, match="not a card posting"):
        card_posting(kind)


def test_only_card_choice_link_and_funding_source_accounts_are_guarded():
    assert {k for k in AccountKind if k.guarded} == {
        AccountKind.CARD,
        AccountKind.CHOICE_LINK,
        AccountKind.FUNDING,
        AccountKind.CREDIT_LINE,
    }


@pytest.mark.parametrize("bad", [0, -1, True, False, 1.0, "5", None])
def test_require_positive_refuses_what_is_not_a_positive_int(bad):
    with pytest.raises(ValidationFailed) as exc:
        require_positive(bad, param="capture_amount")
    assert exc.value.param == "capture_amount"


def test_require_positive_returns_the_amount():
    assert require_positive(1) == 1
    assert require_positive(MAX_AMOUNT) == MAX_AMOUNT
    with pytest.raises(ValidationFailed):
        require_positive(MAX_AMOUNT + 1)


def test_partial_capture_bounds():
    assert partial_capture(1000, None) == 1000
    assert partial_capture(1000, 1000) == 1000
    assert partial_capture(1000, 1) == 1
    assert partial_capture(1000, 999) == 999
    for bad in (1001, 0, -1):
        with pytest.raises(ValidationFailed) as exc:
            partial_capture(1000, bad)
        assert exc.value.param == "amount"
    with pytest.raises(ValidationFailed, match=r"\(1000\)"):
        partial_capture(1000, 1001)


def test_refundable_bounds():
    assert refundable(1000, 0, None) == 1000
    assert refundable(1000, 300, None) == 700
    assert refundable(1000, 300, 700) == 700
    assert refundable(1000, 300, 1) == 1
    with pytest.raises(ValidationFailed, match=r"\(700\)"):
        refundable(1000, 300, 701)
    with pytest.raises(ValidationFailed, match="nothing left"):
        refundable(1000, 1000, None)
    with pytest.raises(ValidationFailed, match="nothing left"):
        refundable(1000, 1000, 1)
    for bad in (0, -5):
        with pytest.raises(ValidationFailed, match="greater than zero"):
            refundable(1000, 0, bad)


@given(
    st.integers(min_value=1, max_value=10**12),
    st.data(),
)
def test_refunds_in_any_pieces_never_exceed_the_redemption(redeemed, data):
    refunded = 0
    while refunded < redeemed:
        ask = data.draw(st.none() | st.integers(min_value=1, max_value=redeemed + 10))
        left = redeemed - refunded
        if ask is not None and ask > left:
            with pytest.raises(ValidationFailed):
                refundable(redeemed, refunded, ask)
            continue
        got = refundable(redeemed, refunded, ask)
        assert got == (left if ask is None else ask)
        refunded += got
    assert refunded == redeemed
    with pytest.raises(ValidationFailed):
        refundable(redeemed, refunded, None)
