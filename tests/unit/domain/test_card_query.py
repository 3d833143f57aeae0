"""The card query language, pure: parsing, what an index anchors, sorts, and the search text.
Any JSON at all either parses or is a 4xx naming a path, never another exception."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from giftwell.domain import card_query as q
from giftwell.domain.errors import GiftwellError, ValidationFailed

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "and",
                    "or",
                    "not",
                    "id",
                    "balance",
                    "created_at",
                    "code",
                    "text",
                    "metadata.k",
                    "eq",
                    "in",
                    "gte",
                    "startsWith",
                    "exists",
                    "search",
                    "x",
                ]
            )
            | st.text(max_size=6),
            kids,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_any_json_parses_or_is_a_4xx(raw: object) -> None:
    failure: GiftwellError | None = None
    try:
        q.anchored(q.parse(raw))
    except GiftwellError as exc:
        failure = exc
    if failure is not None:
        assert 400 <= failure.status < 500
        assert failure.param is None or failure.param.startswith("filter")


def test_values_are_stored_forms() -> None:
    node = q.parse({"recipient_email": {"eq": " Ada@X.com "}, "created_at": {"gte": "2026-01-01T01:00:00+01:00"}})
    assert isinstance(node, q.And)
    email, at = node.parts
    assert isinstance(email, q.Cond)
    assert isinstance(at, q.Cond)
    assert email.value == "ada@x.com"
    assert at.value == datetime(2026, 1, 1, tzinfo=UTC)
    code = q.parse({"code": {"in": ["abcd-efgh 1234"]}})
    assert isinstance(code, q.Cond)
    assert code.value == ("ABCDEFGH1234",)


@pytest.mark.parametrize(
    ("raw", "indexed"),
    [
        ({"status": {"eq": "active"}}, True),
        ({"status": {"ne": "active"}}, False),
        ({"status": {"ne": "active"}, "currency": {"eq": "EUR"}}, True),
        ({"or": [{"status": {"eq": "active"}}, {"currency": {"ne": "EUR"}}]}, False),
        ({"or": [{"status": {"eq": "active"}}, {"text": {"search": "ada"}}]}, True),
        ({"not": {"status": {"eq": "active"}}}, False),
        ({"metadata.k": {"exists": True}}, True),
        (None, True),
    ],
)
def test_anchored(raw: object, indexed: bool) -> None:
    assert q.anchored(q.parse(raw)) is indexed


def test_sorts() -> None:
    assert q.sort_key("-balance").name == "-balance"
    assert q.sort_key("expires_at").field.nullable
    assert q.sort_key("-metadata.shop").name == "-metadata.shop"
    assert q.sort_key("-metadata.shop").key == "shop"
    for name in ("code", "-code", "text"):
        with pytest.raises(q.QueryNotIndexed):
            q.sort_key(name)
    for name in ("colour", "metadata", "-metadata.", ""):
        with pytest.raises(ValidationFailed):
            q.sort_key(name)


def test_search_text() -> None:
    assert q.search_body("ada\nx", ["ADA", "  Grace   Hopper ", None, "", "x"]) == "ada\nx\ngrace hopper"
    assert q.search_words(" Ada  LOVE ", param="p") == ["ada", "love"]
    with pytest.raises(q.QueryNotIndexed):
        q.search_words("ada of", param="p")
    with pytest.raises(ValidationFailed):
        q.search_words("   ", param="p")
