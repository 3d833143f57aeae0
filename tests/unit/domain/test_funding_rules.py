"""The pure rules of funding sources: how a credit line's ledger balance reads to people, the
credit limit's range, receipt signs and lines."""

from __future__ import annotations

import pytest

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.funding import Line, ReceiptKind, SourceKind, SourceState, check_limit, lines_total
from giftwell.domain.ledger import MAX_BALANCE


def test_a_credit_line_reads_as_minus_what_is_owed():
    # Limit 5000; 1950 charged (unused 3050); 975 reserved by an order still being fulfilled.
    s = SourceState(SourceKind.CREDIT_LINE, ledger_balance=3050, pending_out=975, limit=5000)
    assert (s.owed, s.balance, s.available) == (1950, -1950, 2075)
    untouched = SourceState(SourceKind.CREDIT_LINE, ledger_balance=5000, pending_out=0, limit=5000)
    assert (untouched.owed, untouched.balance, untouched.available) == (0, 0, 5000)


def test_a_prepaid_balance_reads_as_the_money_held():
    s = SourceState(SourceKind.PREPAID, ledger_balance=800, pending_out=300, limit=None)
    assert (s.owed, s.balance, s.available) == (None, 800, 500)


@pytest.mark.parametrize("bad", [-1, MAX_BALANCE + 1, True, 1.5, "100", None])
def test_a_credit_limit_is_an_integer_within_the_ledger(bad):
    with pytest.raises(ValidationFailed) as exc:
        check_limit(bad)
    assert exc.value.param == "limit"


def test_limits_at_the_edges():
    assert (check_limit(0), check_limit(MAX_BALANCE)) == (0, MAX_BALANCE)


def test_receipt_signs_and_lines():
    assert [k.sign for k in ReceiptKind] == [-1, 1, 1, 1]
    lines = [Line("Acme", 1950, 2, 975, "acme-usd", "oi_1", face_value=1000), Line("Payment", 50)]
    assert lines_total(lines) == 2000
    assert lines[1].as_dict() == {
        "description": "Payment",
        "product": None,
        "item": None,
        "face_value": None,
        "quantity": 1,
        "unit_amount": 50,
        "amount": 50,
    }
