"""Whatever JSON a Wix client sends to any of the dialect's operations, the answer is never a 5xx
and every 4xx is one of Wix's two error bodies. SQLite (the bodies are tested on both elsewhere)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.functional.dialects.wix.support import CARDS, Wix

pytestmark = pytest.mark.slow

LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)  # what JSON can carry
    | st.text(max_size=30)
    | st.sampled_from(["50.00", "USD", "MANUAL", "ABCD1234EFGH4444", "2027-12-31T23:59:59Z", "a@b.example", ""])
)
KEYS = st.sampled_from(
    [
        "giftCard",
        "initialValue",
        "amount",
        "currency",
        "source",
        "code",
        "expirationDate",
        "notificationInfo",
        "recipientInfo",
        "email",
        "name",
        "personalMessage",
        "notificationDate",
        "image",
        "url",
        "idempotencyKey",
        "query",
        "filter",
        "sort",
        "cursorPaging",
        "limit",
        "cursor",
        "search",
        "expression",
        "fields",
        "fieldName",
        "order",
        "$and",
        "$or",
        "$not",
        "$eq",
        "$in",
        "$gt",
        "_id",
        "balance",
        "codeSuffix",
        "_createdDate",
        "giftCardId",
    ]
) | st.text(max_size=8)
BODIES = st.recursive(
    LEAVES, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(KEYS, kids, max_size=4), max_leaves=25
)
SEEN: list[int] = []
PATHS = [
    ("POST", CARDS),
    ("POST", f"{CARDS}/query"),
    ("POST", f"{CARDS}/search"),
    ("POST", f"{CARDS}/count"),
    ("POST", f"{CARDS}/transactions/query-gift-card-transactions"),
    ("POST", f"{CARDS}/{{id}}/disable"),
    ("POST", f"{CARDS}/{{id}}/send-email"),
]


def check(r: Any) -> None:
    SEEN.append(r.status_code)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        body = r.json()
        assert set(body) == {"message", "details"}, body
        assert set(body["details"]) <= {"applicationError", "validationError"}, body


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_no_body_is_a_5xx(wix: Wix) -> None:
    card = await wix.create()
    bodies: list[Any] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(BODIES)
    def collect(body: Any) -> None:
        bodies.append(body)

    collect()
    for body in bodies:
        for method, path in PATHS:
            check(await wix.call(method, path.replace("{id}", card["id"]), body))
    for email in ("", "x", "a@b.example", "%00", "a" * 400):
        check(await wix.call("GET", CARDS, params={"email": email, "cursorPaging.limit": "7"}))
    assert len(SEEN) >= 60 * len(PATHS)
    assert {400, 200} <= set(SEEN)
