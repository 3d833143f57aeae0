"""`POST /v1/cards/query` and `/v1/cards/count`: every field and operator, and/or/not, every sort
with paging that visits each card once, refusal of what no index answers, bad input as 4xx
naming the path, and isolation between accounts (not even the full code finds another's card).
Both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import FakeClock
from tests.functional.support import Api, expect_error, ids


async def query_all(api: Api, filter: Any = None, sort: str = "-created_at", limit: int = 2) -> list[str]:
    """Every matching card's id, walking all pages (small pages, so paging is exercised)."""
    out: list[str] = []
    body: dict[str, Any] = {"filter": filter, "sort": sort, "limit": limit}
    while True:
        page = await api.post("/v1/cards/query", body)
        out += ids(page["data"])
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        body = {**body, "cursor": page["next_cursor"]}
    count = (await api.post("/v1/cards/count", {"filter": filter}))["count"]
    assert count == len(out), (filter, count, out)
    assert len(set(out)) == len(out), out
    return out


@pytest.fixture
async def cards(api: Api, other: Api, clock: FakeClock) -> dict[str, dict[str, Any]]:
    """Five cards of `api` (and one twin of `a` in `other`), one minute apart."""
    made: dict[str, dict[str, Any]] = {}
    made["a"] = await api.new_card(
        "EUR",
        1000,
        code="AAAA-BBBB-CCCC-1111",
        recipient={"email": "ann@x.com", "name": "Ann Lee"},
        sender={"email": "sam@x.com", "name": "Sam Oak"},
        metadata={"campaign": "spring", "shop": "north"},
    )
    clock.advance(minutes=1)
    made["b"] = await api.new_card(
        "EUR", None, code="AAAA-BBBB-CCCC-2222", recipient={"email": "bob@x.com", "name": "Bob Ray"}
    )
    clock.advance(minutes=1)
    made["c"] = await api.new_card(
        "JPY",
        500,
        code="AAAA-BBBB-CCCC-3333",
        sender={"email": "sue@y.com", "name": "Sue Park"},
        metadata={"campaign": "summer"},
        expires_at=(clock.now + timedelta(days=30)).isoformat(),
    )
    clock.advance(minutes=1)
    made["d"] = await api.new_card("EUR", 700, code="AAAA-BBBB-CCCC-1441")
    await api.post(f"/v1/cards/{made['d']['id']}/disable")
    clock.advance(minutes=1)
    made["e"] = await api.new_card(
        "EUR", 2000, code="ZZZZ-BBBB-CCCC-5555", expires_at=(clock.now + timedelta(days=10)).isoformat()
    )
    await api.post(f"/v1/cards/{made['e']['id']}/redeem", {"amount": 1400})
    await other.new_card(
        "EUR",
        1000,
        code="AAAA-BBBB-CCCC-1111",
        recipient={"email": "ann@x.com", "name": "Ann Lee"},
        sender={"email": "sam@x.com", "name": "Sam Oak"},
        metadata={"campaign": "spring"},
    )
    return made


async def test_each_field_and_operator(api: Api, cards: dict[str, dict[str, Any]], clock: FakeClock) -> None:
    a, b, c, d, e = (cards[k]["id"] for k in "abcde")

    async def found(filter: Any) -> set[str]:
        return set(await query_all(api, filter))

    assert await found(None) == {a, b, c, d, e}
    assert await found({}) == {a, b, c, d, e}
    assert await found({"id": {"eq": a}}) == {a}
    assert await found({"id": {"in": [a, c, "card_nope"]}}) == {a, c}
    # The full code, however it is written, through its keyed hash.
    assert await found({"code": {"eq": "aaaa bbbb cccc 1111"}}) == {a}
    assert await found({"code": {"in": ["AAAABBBBCCCC3333", "AAAA-BBBB-CCCC-2222"]}}) == {b, c}
    assert await found({"code": {"eq": "AAAA-BBBB-CCCC-9999"}}) == set()
    assert await found({"code_suffix": {"eq": "1111"}}) == {a}
    assert await found({"code_suffix": {"startsWith": "1"}}) == {a, d}
    assert await found({"code_suffix": {"in": ["2222", "5555"]}}) == {b, e}
    assert await found({"code_suffix": {"gte": "3000"}}) == {c, e}
    assert await found({"status": {"eq": "active"}}) == {a, c, e}
    assert await found({"status": {"in": ["inactive", "disabled"]}}) == {b, d}
    assert await found({"currency": {"eq": "JPY"}}) == {c}
    assert await found({"balance": {"gte": 700}}) == {a, d}
    assert await found({"balance": {"lt": 500}}) == {b}
    assert await found({"balance": {"lte": 500}}) == {b, c}
    assert await found({"balance": {"gt": 500, "lt": 1000}}) == {d, e}
    assert await found({"balance": {"eq": 500}}) == {c}
    assert await found({"initial_amount": {"eq": 2000}}) == {e}
    assert await found({"initial_amount": {"in": [0, 700]}}) == {b, d}
    t = clock.now - timedelta(minutes=2)  # c's creation
    assert await found({"created_at": {"gte": t.isoformat()}}) == {c, d, e}
    assert await found({"created_at": {"gt": t.isoformat()}}) == {d, e}
    assert await found({"created_at": {"eq": t.isoformat()}}) == {c}
    assert await found({"created_at": {"lt": t.isoformat()}}) == {a, b}
    assert await found({"updated_at": {"gte": (clock.now - timedelta(seconds=1)).isoformat()}}) == {e}
    assert await found({"expires_at": {"exists": True}}) == {c, e}
    assert await found({"expires_at": {"lt": (clock.now + timedelta(days=20)).isoformat()}}) == {e}
    assert await found({"disabled_at": {"exists": True}}) == {d}
    assert (await api.card(d))["disabled_at"] is not None
    assert (await api.card(a))["disabled_at"] is None
    assert await found({"disabled_at": {"lte": clock.now.isoformat()}}) == {d}
    assert await found({"source": {"eq": "manual"}}) == {a, b, c, d, e}
    assert await found({"source": {"eq": "order"}}) == set()
    assert await found({"sender_email": {"eq": "SAM@x.com"}}) == {a}
    assert await found({"sender_email": {"startsWith": "s"}}) == {a, c}
    assert await found({"sender_email": {"exists": True}}) == {a, c}
    assert await found({"recipient_email": {"in": ["ann@x.com", "bob@x.com"]}}) == {a, b}
    assert await found({"recipient_name": {"eq": "ann lee"}}) == {a}
    assert await found({"recipient_name": {"startsWith": "BO"}}) == {b}
    assert await found({"sender_name": {"startsWith": "s"}}) == {a, c}
    assert await found({"metadata.campaign": {"eq": "spring"}}) == {a}
    assert await found({"metadata.campaign": {"exists": True}}) == {a, c}
    assert await found({"metadata.campaign": {"startsWith": "s"}}) == {a, c}
    assert await found({"metadata.campaign": {"in": ["summer", "winter"]}}) == {c}
    assert await found({"metadata.shop": {"eq": "north"}}) == {a}


async def test_and_or_not_and_ne(api: Api, cards: dict[str, dict[str, Any]]) -> None:
    a, b, c, d, e = (cards[k]["id"] for k in "abcde")

    async def found(filter: Any) -> set[str]:
        return set(await query_all(api, filter))

    assert await found({"currency": {"eq": "EUR"}, "status": {"eq": "active"}}) == {a, e}
    assert await found({"and": [{"currency": {"eq": "EUR"}}, {"balance": {"gte": 1000}}]}) == {a}
    assert await found({"or": [{"currency": {"eq": "JPY"}}, {"code_suffix": {"eq": "2222"}}]}) == {b, c}
    # `ne` and `not` narrow an indexed condition; NULLs count as "not equal" and "not matching".
    assert await found({"currency": {"eq": "EUR", "ne": "EUR"}}) == set()
    assert await found({"source": {"eq": "manual"}, "recipient_email": {"ne": "ann@x.com"}}) == {b, c, d, e}
    assert await found({"source": {"eq": "manual"}, "not": {"expires_at": {"exists": True}}}) == {a, b, d}
    assert await found({"source": {"eq": "manual"}, "sender_email": {"exists": False}}) == {b, d, e}
    assert await found({"source": {"eq": "manual"}, "not": {"metadata.campaign": {"eq": "spring"}}}) == {b, c, d, e}
    assert await found(
        {"or": [{"and": [{"currency": {"eq": "EUR"}}, {"not": {"status": {"eq": "active"}}}]}, {"id": {"eq": c}}]}
    ) == {b, c, d}


async def test_each_sort_walks_every_card_once(api: Api, cards: dict[str, dict[str, Any]]) -> None:
    a, b, c, d, e = (cards[k]["id"] for k in "abcde")
    assert await query_all(api, sort="created_at") == [a, b, c, d, e]
    assert await query_all(api, sort="-created_at") == [e, d, c, b, a]
    assert await query_all(api, sort="balance") == [b, c, e, d, a]
    assert await query_all(api, sort="-initial_amount") == [e, a, d, c, b]
    # NULLs last going up, first going down; ties broken by id.
    assert (await query_all(api, sort="expires_at"))[:2] == [e, c]
    assert (await query_all(api, sort="-expires_at"))[3:] == [c, e]
    assert (await query_all(api, sort="disabled_at"))[0] == d
    assert (await query_all(api, sort="-recipient_name"))[3:] == [b, a]
    assert (await query_all(api, sort="sender_email"))[:2] == [a, c]
    assert await query_all(api, sort="code_suffix") == [a, d, b, c, e]
    # By a metadata value: cards without the key last going up, first going down.
    assert await query_all(api, sort="metadata.campaign") == [a, c, *sorted([b, d, e])]
    assert await query_all(api, sort="-metadata.campaign") == [*sorted([b, d, e], reverse=True), c, a]
    assert await query_all(api, {"currency": {"eq": "EUR"}}, sort="-metadata.shop") == [
        *sorted([b, d, e], reverse=True),
        a,
    ]
    for field in ("id", "status", "currency", "source", "updated_at", "sender_name", "recipient_email"):
        for sort in (field, "-" + field):
            got = await query_all(api, sort=sort, limit=1)
            assert sorted(got) == sorted([a, b, c, d, e]), sort
    by_id = sorted([a, b, c, d, e])
    assert await query_all(api, sort="id") == by_id
    assert await query_all(api, sort="-id") == by_id[::-1]
    # The native list takes the same sorts.
    page = await api.get("/v1/cards", params={"sort": "-balance", "limit": 2})
    assert ids(page["data"]) == [a, d]


async def test_recipient_found_through_a_later_delivery(api: Api, other: Api) -> None:
    card = await api.new_card("EUR", 100)
    theirs = await other.new_card("EUR", 100)
    await api.post(
        f"/v1/cards/{card['id']}/send",
        {"channel": "email", "to": "Later@X.com", "recipient_name": "Lou Later", "sender_name": "Max"},
        status=201,
    )
    await other.post(f"/v1/cards/{theirs['id']}/send", {"channel": "email", "to": "later@x.com"}, status=201)
    assert await query_all(api, {"recipient_email": {"eq": "later@x.com"}}) == [card["id"]]
    assert await query_all(api, {"recipient_name": {"startsWith": "lou"}}) == [card["id"]]
    assert await query_all(api, {"sender_name": {"eq": "max"}}) == [card["id"]]
    assert await query_all(api, {"recipient_email": {"exists": True}}) == [card["id"]]


async def test_another_accounts_cards_are_never_found(api: Api, other: Api, cards: dict[str, dict[str, Any]]) -> None:
    mine = set(await query_all(api))
    theirs = await query_all(other)
    assert len(theirs) == 1
    assert not mine & set(theirs)
    for filter in (
        {"code": {"eq": "AAAA-BBBB-CCCC-2222"}},
        {"code": {"in": ["AAAA-BBBB-CCCC-3333", "ZZZZBBBBCCCC5555"]}},
        {"id": {"eq": cards["a"]["id"]}},
        {"recipient_email": {"eq": "bob@x.com"}},
        {"metadata.campaign": {"eq": "summer"}},
        {"code_suffix": {"eq": "5555"}},
        {"id": {"startsWith": "c"}, "not": {"id": {"eq": theirs[0]}}},
    ):
        assert await query_all(other, filter) == [], filter
    # The same full code finds each account's own card only.
    assert await query_all(other, {"code": {"eq": "AAAA-BBBB-CCCC-1111"}}) == theirs
    assert await query_all(api, {"code": {"eq": "AAAA-BBBB-CCCC-1111"}}) == [cards["a"]["id"]]


async def test_what_no_index_answers_is_refused(api: Api) -> None:
    for filter in (
        {"status": {"ne": "active"}},
        {"not": {"currency": {"eq": "EUR"}}},
        {"or": [{"currency": {"eq": "EUR"}}, {"status": {"ne": "active"}}]},
    ):
        expect_error(await api.call("POST", "/v1/cards/query", {"filter": filter}), 400, "query_not_indexed", "filter")
        expect_error(await api.call("POST", "/v1/cards/count", {"filter": filter}), 400, "query_not_indexed", "filter")
    for sort in ("code", "-code", "text"):
        expect_error(await api.call("POST", "/v1/cards/query", {"sort": sort}), 400, "query_not_indexed", "sort")


@pytest.mark.parametrize(
    ("filter", "param"),
    [
        ({"colour": {"eq": "red"}}, "filter.colour"),
        ({"balance": {"startsWith": "1"}}, "filter.balance.startsWith"),
        ({"balance": {"gte": "100"}}, "filter.balance.gte"),
        ({"balance": {"gte": 1.5}}, "filter.balance.gte"),
        ({"balance": {"eq": 2**60}}, "filter.balance.eq"),
        ({"balance": {"eq": 10**30}}, "filter"),
        ({"balance": {"eq": True}}, "filter.balance.eq"),
        ({"created_at": {"gte": "2026-01-01T00:00:00"}}, "filter.created_at.gte"),
        ({"created_at": {"gte": "yesterday"}}, "filter.created_at.gte"),
        ({"status": {"eq": "lost"}}, "filter.status.eq"),
        ({"currency": {"eq": "eur"}}, "filter.currency.eq"),
        ({"code_suffix": {"eq": "12"}}, "filter.code_suffix.eq"),
        ({"code": {"startsWith": "AAAA"}}, "filter.code.startsWith"),
        ({"id": {"in": []}}, "filter.id.in"),
        ({"id": {"in": ["x"] * 101}}, "filter.id.in"),
        ({"id": {"exists": "yes"}}, "filter.id.exists"),
        ({"and": {"id": {"eq": "x"}}}, "filter.and"),
        ({"or": [{"id": {"eq": "x"}}, 3]}, "filter.or[1]"),
        ({"id": "x"}, "filter.id"),
        ({"metadata.": {"eq": "x"}}, "filter.metadata."),
        ({"recipient_email": {"eq": ""}}, "filter.recipient_email.eq"),
    ],
)
async def test_bad_filters_name_the_path(api: Api, filter: Any, param: str) -> None:
    expect_error(await api.call("POST", "/v1/cards/query", {"filter": filter}), 422, "validation_error", param)


async def test_bad_sorts_cursors_and_limits(api: Api) -> None:
    await api.new_card()
    await api.new_card()
    expect_error(await api.call("POST", "/v1/cards/query", {"sort": "colour"}), 422, "validation_error", "sort")
    expect_error(await api.call("POST", "/v1/cards/query", {"limit": 0}), 422, "validation_error", "limit")
    expect_error(await api.call("POST", "/v1/cards/query", {"cursor": "!!forged"}), 422, "validation_error", "cursor")
    page = await api.post("/v1/cards/query", {"sort": "balance", "limit": 1})
    r = await api.call("POST", "/v1/cards/query", {"sort": "-balance", "cursor": page["next_cursor"]})
    expect_error(r, 422, "validation_error", "cursor")
    nested: Any = {"id": {"eq": "x"}}
    for _ in range(12):
        nested = {"not": nested}
    r = await api.call("POST", "/v1/cards/query", {"filter": nested})
    assert r.status_code == 422, r.text


async def test_text_search_over_names_emails_suffix_metadata_and_deliveries(
    api: Api, other: Api, cards: dict[str, dict[str, Any]]
) -> None:
    a, b, c, e = (cards[k]["id"] for k in "abce")

    async def found(words: str, **more: Any) -> set[str]:
        return set(await query_all(api, {"text": {"search": words}, **more}))

    assert await found("ann") == {a}  # a recipient's name, any case
    assert await found("LEE") == {a}
    assert await found("oak") == {a}  # a sender's name
    assert await found("y.com") == {c}  # part of an email
    assert await found("x.com") == {a, b}
    assert await found("555") == {e}  # the code suffix
    assert await found("spring") == {a}  # a metadata value
    assert await found("summ") == {c}
    assert await found("ann spring") == {a}  # every word
    assert await found("ann summer") == set()
    assert await found("x.com", currency={"eq": "EUR"}, status={"eq": "inactive"}) == {b}
    assert await found("ray") == {b}
    await api.post(
        f"/v1/cards/{e}/send", {"channel": "email", "to": "zed@later.example", "recipient_name": "Zed Zulu"}, status=201
    )
    assert await found("zulu") == {e}
    assert [c["id"] for c in (await api.get("/v1/cards", params={"text": "Zed Zulu"}))["data"]] == [e]
    await api.error("GET", "/v1/cards", params={"text": "z"}, status=400, code="query_not_indexed", param="text")
    assert await found("later.example") == {e}
    # Another account's card, with the same name and metadata, is never found from here.
    assert await query_all(other, {"text": {"search": "ann spring"}}) == [
        (await other.post("/v1/cards/query", {}))["data"][0]["id"]
    ]
    assert await query_all(other, {"text": {"search": "summer"}}) == []
    for words in ("an", "ann x"):
        r = await api.call("POST", "/v1/cards/query", {"filter": {"text": {"search": words}}})
        expect_error(r, 400, "query_not_indexed", "filter.text.search")
    expect_error(await api.call("POST", "/v1/cards/query", {"sort": "text"}), 400, "query_not_indexed", "sort")
    expect_error(
        await api.call("POST", "/v1/cards/query", {"filter": {"text": {"eq": "ann"}}}),
        422,
        "validation_error",
        "filter.text.eq",
    )
