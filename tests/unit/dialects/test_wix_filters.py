"""Wix's filter language onto the native card query, pure: any JSON is either a native filter the
card query accepts or a field violation / 4xx, never another exception; and the amount and date
translations."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from giftwell.dialects.wix import filters
from giftwell.dialects.wix.wire import WireError
from giftwell.domain import card_query as q
from giftwell.domain.errors import GiftwellError

KEYS = [
    "$and",
    "$or",
    "$not",
    "_id",
    "code",
    "codeSuffix",
    "balance",
    "initialValue.amount",
    "_createdDate",
    "source",
    "currency",
    "$eq",
    "$in",
    "$ge",
    "$startsWith",
    "$exists",
    "x",
]
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["10.00", "2026-01-01T00:00:00Z", "ORDER", "USD"]),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), kids, max_size=3)
    ),
    max_leaves=15,
)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_any_filter_translates_or_is_a_field_violation(raw: Any) -> None:
    try:
        native = filters.native(raw, "query.filter")
        q.parse(native)
    except (WireError, GiftwellError):
        pass


def test_amounts_branch_by_currency_exponent() -> None:
    got = filters.native({"balance": {"$eq": "10.5"}}, "f")
    assert got is not None
    branches = got["or"]
    values = sorted(b["and"][0]["balance"]["eq"] for b in branches)
    assert values == [1050, 10500, 105000]  # 2, 3 and 4 places; no branch for JPY (0 places)
    node = q.parse(got)
    assert q.anchored(node)


def test_dates_mean_their_millisecond() -> None:
    got = filters.native({"_createdDate": {"$eq": "2026-01-05T10:00:00.123Z"}}, "f")
    assert got == {"created_at": {"gte": "2026-01-05T10:00:00.123000+00:00", "lt": "2026-01-05T10:00:00.124000+00:00"}}
    assert filters.native({"_createdDate": {"$gt": "2026-01-05T10:00:00.123Z"}}, "f") == {
        "created_at": {"gte": "2026-01-05T10:00:00.124000+00:00"}
    }
    assert filters.sort([{"fieldName": "_createdDate", "order": "DESC"}], "s") == "-created_at"
