"""The Wix dialect's query, search, count and list by email (../shared/dialects.md 3.5): each
documented field with each operator, `$le`/`$lte` and `$ge`/`$gte` alike, each sort, cursor
paging, amounts across currencies, and isolation: no filter, search, count or list reveals
another account's card, not even by its full code. Both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import FakeClock
from tests.functional.dialects.wix.support import CARDS, Wix, app_error, field_error
from tests.functional.support import Api


@pytest.fixture
async def cards(wix: Wix, other_wix: Wix, clock: FakeClock) -> dict[str, dict[str, Any]]:
    made: dict[str, dict[str, Any]] = {}
    made["a"] = await wix.create(code="AAAA1111BBBB1111", initialValue={"amount": "10.00"})
    clock.advance(minutes=1)
    made["b"] = await wix.create(
        code="AAAA2222BBBB2222",
        initialValue={"amount": "25.50"},
        expirationDate=(clock.now + timedelta(days=30)).isoformat(),
    )
    clock.advance(minutes=1)
    made["c"] = await wix.create(
        code="CCCC3333DDDD3333", currency="JPY", initialValue={"amount": "1000"}, source="ORDER"
    )
    clock.advance(minutes=1)
    made["d"] = await wix.create(
        code="DDDD4444EEEE4444",
        currency="KWD",
        initialValue={"amount": "10.000"},
        expirationDate=(clock.now + timedelta(days=10)).isoformat(),
    )
    # The same code in another account: never found from this one.
    await other_wix.create(code="AAAA1111BBBB1111", initialValue={"amount": "10.00"})
    return made


async def test_each_documented_field_and_operator(wix: Wix, cards: dict[str, dict[str, Any]]) -> None:
    a, b, c, d = (cards[k]["id"] for k in "abcd")

    async def found(filter: Any) -> set[str]:
        return set(await wix.all_ids(filter))

    assert await found(None) == {a, b, c, d}
    assert await found({"_id": {"$eq": a}}) == {a}
    assert await found({"_id": a}) == {a}  # a bare value is $eq
    assert await found({"_id": {"$in": [a, b]}}) == {a, b}
    assert await found({"_id": {"$exists": True}}) == {a, b, c, d}
    assert await found({"_id": {"$startsWith": a[:-3]}}) >= {a}
    ordered = sorted([a, b, c, d])
    assert await found({"_id": {"$gt": ordered[1]}}) == set(ordered[2:])
    assert await found({"_id": {"$ge": ordered[1]}}) == set(ordered[1:])
    assert await found({"_id": {"$gte": ordered[1]}}) == set(ordered[1:])
    assert await found({"_id": {"$lt": ordered[1]}}) == set(ordered[:1])
    assert await found({"_id": {"$le": ordered[1]}}) == set(ordered[:2])
    assert await found({"_id": {"$lte": ordered[1]}}) == set(ordered[:2])
    assert await found({"_id": {"$exists": True, "$ne": a}}) == {b, c, d}
    # The full code (any case) through its keyed hash.
    assert await found({"code": {"$eq": "aaaa1111bbbb1111"}}) == {a}
    assert await found({"code": {"$in": ["AAAA2222BBBB2222", "CCCC3333DDDD3333"]}}) == {b, c}
    assert await found({"code": {"$exists": True, "$ne": "AAAA1111BBBB1111"}}) == {b, c, d}
    assert await found({"codeSuffix": {"$eq": "2222"}}) == {b}
    assert await found({"codeSuffix": {"$in": ["1111", "4444"]}}) == {a, d}
    assert await found({"codeSuffix": {"$startsWith": "3"}}) == {c}
    assert await found({"codeSuffix": {"$gt": "2222"}}) == {c, d}
    assert await found({"codeSuffix": {"$le": "2222"}}) == {a, b}
    t_b = cards["b"]["createdDate"]
    assert await found({"_createdDate": {"$eq": t_b}}) == {b}
    assert await found({"_createdDate": {"$gt": t_b}}) == {c, d}
    assert await found({"_createdDate": {"$ge": t_b}}) == {b, c, d}
    assert await found({"_createdDate": {"$lt": t_b}}) == {a}
    assert await found({"_createdDate": {"$lte": t_b}}) == {a, b}
    assert await found({"_createdDate": {"$in": [t_b, cards["d"]["createdDate"]]}}) == {b, d}
    assert await found({"_updatedDate": {"$ge": cards["c"]["updatedDate"]}}) == {c, d}
    assert await found({"expirationDate": {"$exists": True}}) == {b, d}
    assert await found({"expirationDate": {"$lt": cards["b"]["expirationDate"]}}) == {d}
    assert await found({"expirationDate": {"$eq": cards["d"]["expirationDate"]}}) == {d}
    # Amounts are decimal strings, meant in each card's own currency.
    assert await found({"balance": {"$eq": "10.00"}}) == {a, d}
    assert await found({"balance": {"$eq": "10"}}) == {a, d}
    assert await found({"balance": {"$eq": "1000"}}) == {c}
    assert await found({"balance": {"$in": ["25.50", "1000"]}}) == {b, c}
    assert await found({"initialValue": {"$eq": "25.5"}}) == {b}
    assert await found({"initialValue.amount": {"$in": ["10.00"]}}) == {a, d}
    assert await found({"initialValue": {"$exists": True}}) == {a, b, c, d}
    assert await found({"balance": {"$eq": "0.001"}}) == set()
    assert await found({"source": "ORDER"}) == {c}
    assert await found({"currency": {"$in": ["USD", "KWD"]}}) == {a, b, d}
    assert await found({"$and": [{"currency": "USD"}, {"balance": {"$eq": "10.00"}}]}) == {a}
    assert await found({"$or": [{"codeSuffix": "1111"}, {"currency": "JPY"}]}) == {a, c}
    assert await found({"currency": "USD", "$not": {"codeSuffix": "1111"}}) == {b}


async def test_each_sort_and_paging(wix: Wix, cards: dict[str, dict[str, Any]]) -> None:
    a, b, c, d = (cards[k]["id"] for k in "abcd")

    def by(field: str, order: str = "ASC") -> list[dict[str, str]]:
        return [{"fieldName": field, "order": order}]

    assert await wix.all_ids(None) == [d, c, b, a]  # newest first by default
    assert await wix.all_ids(None, by("_createdDate")) == [a, b, c, d]
    assert await wix.all_ids(None, by("createdDate", "DESC")) == [d, c, b, a]
    assert await wix.all_ids(None, by("_updatedDate")) == [a, b, c, d]
    assert await wix.all_ids(None, by("codeSuffix", "DESC")) == [d, c, b, a]
    assert await wix.all_ids(None, by("expirationDate")) == [d, b, *sorted([a, c])]
    assert await wix.all_ids(None, by("_id")) == sorted([a, b, c, d])
    assert await wix.all_ids(None, by("_id", "DESC")) == sorted([a, b, c, d])[::-1]
    # Minor units: 1000 (10.00 USD), 2550, 1000 (1000 JPY), 10000 (10.000 KWD); ties by id.
    assert await wix.all_ids(None, by("initialValue")) == [*sorted([a, c]), b, d]
    assert await wix.all_ids(None, [{"fieldName": "codeSuffix"}, {"fieldName": "_id"}]) == [a, b, c, d]
    for field in ("code", "colour"):
        r = await wix.call("POST", f"{CARDS}/query", {"query": {"sort": by(field)}})
        assert r.status_code == 400, r.text


async def test_search_count_and_refusals(wix: Wix, cards: dict[str, dict[str, Any]]) -> None:
    a, c = cards["a"]["id"], cards["c"]["id"]

    async def searched(search: dict[str, Any], **extra: Any) -> list[str]:
        page = await wix.ok("POST", f"{CARDS}/search", {"search": {"search": search, **extra}})
        return [x["id"] for x in page["giftCards"]]

    assert await searched({"expression": "AAAA-1111-BBBB-1111"}) == [a]
    assert await searched({"expression": "3333", "fields": ["codeSuffix"]}) == [c]
    assert await searched({"expression": "3333", "fields": ["code"]}) == []
    assert set(await searched({"expression": "1"})) == {a}
    assert await searched({"expression": "2"}, filter={"currency": "JPY"}) == []
    r = await wix.call("POST", f"{CARDS}/search", {"search": {"search": {"expression": "x", "fields": ["pin"]}}})
    field_error(r, "search.search.fields", "INVALID_ENUM_VALUE")
    assert await wix.ok("POST", f"{CARDS}/count", {"filter": {"currency": "USD"}}) == {"count": 2}
    assert await wix.ok("POST", f"{CARDS}/count", {}) == {"count": 4}
    # No index answers a lone $ne: refused, never run.
    for path, body in (
        ("query", {"query": {"filter": {"currency": {"$ne": "USD"}}}}),
        ("count", {"filter": {"$not": {"currency": "USD"}}}),
    ):
        app_error(await wix.call("POST", f"{CARDS}/{path}", body), 400, "QUERY_NOT_INDEXED")
    for filter, field in (
        ({"code": {"$startsWith": "AAAA"}}, "query.filter.code.startsWith"),
        ({"colour": "red"}, "query.filter.colour"),
        ({"_id": {"$regex": "x"}}, "query.filter._id.$regex"),
        ({"_createdDate": {"$gt": "2026-01-01T00:00:00"}}, "query.filter._createdDate.$gt"),
        ({"balance": {"$eq": 10.5}}, "query.filter.balance.$eq"),
        ({"source": "GIFT"}, "query.filter.source.$eq"),
    ):
        field_error(await wix.call("POST", f"{CARDS}/query", {"query": {"filter": filter}}), field)
    deep: Any = {"codeSuffix": "1111"}
    for _ in range(500):
        deep = {"$not": deep}
    r = await wix.call("POST", f"{CARDS}/query", {"query": {"filter": {"$and": [deep]}}})
    assert r.status_code == 400, r.text
    r = await wix.call("POST", f"{CARDS}/query", {"query": {"cursorPaging": {"cursor": "forged!"}}})
    field_error(r, "query.cursorPaging.cursor")
    r = await wix.call("POST", f"{CARDS}/query", {"query": {"cursorPaging": {"limit": 101}}})
    field_error(r, "query.cursorPaging.limit")


async def test_list_by_email_finds_sender_recipient_and_cards_sent_later(wix: Wix, other_wix: Wix) -> None:
    given = await wix.create(
        notificationInfo={"recipientInfo": {"email": "Ann@x.com"}, "senderInfo": {"email": "sam@x.com"}}
    )
    later = await wix.create()
    other = await other_wix.create(notificationInfo={"recipientInfo": {"email": "ann@x.com"}})
    await wix.ok("POST", f"{CARDS}/{later['id']}/send-email", {"recipientInfo": {"email": "ann@X.com", "name": "Ann"}})

    async def listed(who: Wix, email: str) -> set[str]:
        page = await who.ok("GET", CARDS, params={"email": email})
        assert all(c["code"].startswith("****") for c in page["giftCards"])
        return {c["id"] for c in page["giftCards"]}

    assert await listed(wix, "ann@x.com") == {given["id"], later["id"]}
    assert await listed(wix, "SAM@x.com") == {given["id"]}
    assert await listed(wix, "nobody@x.com") == set()
    assert await listed(other_wix, "ann@x.com") == {other["id"]}
    page = await wix.ok("GET", CARDS, params={"email": "ann@x.com", "cursorPaging.limit": "1"})
    assert page["pagingMetadata"]["hasNext"] is True
    field_error(await wix.call("GET", CARDS), "email", "REQUIRED_FIELD")
    field_error(await wix.call("GET", CARDS, params={"email": "not-an-email"}), "email")
    field_error(
        await wix.call("GET", CARDS, params={"email": "a@x.com", "cursorPaging.limit": "0"}), "cursorPaging.limit"
    )


async def test_no_filter_search_or_count_reveals_another_accounts_card(
    wix: Wix, other_wix: Wix, cards: dict[str, dict[str, Any]]
) -> None:
    theirs = await other_wix.all_ids(None)
    assert len(theirs) == 1
    mine = set(await wix.all_ids(None))
    assert not mine & set(theirs)
    for filter in (
        {"code": "AAAA2222BBBB2222"},
        {"code": {"$in": ["CCCC3333DDDD3333", "DDDD4444EEEE4444"]}},
        {"_id": cards["b"]["id"]},
        {"codeSuffix": "4444"},
        {"currency": "KWD"},
        {"balance": {"$eq": "25.50"}},
    ):
        assert await other_wix.all_ids(filter) == [], filter
    for expression in ("AAAA2222BBBB2222", "CCCC3333DDDD3333", "4444"):
        page = await other_wix.ok("POST", f"{CARDS}/search", {"search": {"search": {"expression": expression}}})
        assert page["giftCards"] == [], expression
    assert await other_wix.ok("POST", f"{CARDS}/count", {"filter": {"code": "AAAA2222BBBB2222"}}) == {"count": 0}
    # The code both accounts use finds each one's own card.
    assert await other_wix.all_ids({"code": "AAAA1111BBBB1111"}) == theirs
    assert await wix.all_ids({"code": "AAAA1111BBBB1111"}) == [cards["a"]["id"]]


async def test_native_and_wix_agree_on_the_card(wix: Wix) -> None:
    created = await wix.create(initialValue={"amount": "12.34"}, currency="EUR")
    native = await Api(wix.client, wix.tenant).card(created["id"])
    assert (native["initial_amount"], native["balance"], native["code_last4"]) == (1234, 1234, created["codeSuffix"])


async def test_search_by_names_and_emails(wix: Wix, other_wix: Wix) -> None:
    ada = await wix.create(
        notificationInfo={"recipientInfo": {"email": "ada@lovelace.example", "name": "Ada Lovelace"}},
        code="ADA0ADA0ADA01234",
    )
    later = await wix.create(code="BOBBOBBOB0005678")
    await wix.ok(
        "POST", f"{CARDS}/{later['id']}/send-email", {"recipientInfo": {"email": "grace@navy.example", "name": "Grace"}}
    )
    await other_wix.create(
        notificationInfo={"recipientInfo": {"email": "ada@lovelace.example", "name": "Ada Lovelace"}}
    )

    async def searched(expression: str, fields: list[str] | None = None) -> list[str]:
        search: dict[str, Any] = {"expression": expression}
        if fields is not None:
            search["fields"] = fields
        page = await wix.ok("POST", f"{CARDS}/search", {"search": {"search": search}})
        return [x["id"] for x in page["giftCards"]]

    assert await searched("lovelace") == [ada["id"]]
    assert await searched("ADA LOVE") == [ada["id"]]
    assert await searched("navy.example") == [later["id"]]
    assert await searched("grace", ["notificationInfo"]) == [later["id"]]
    assert await searched("1234") == [ada["id"]]  # the suffix, and the text holds it too
    assert await searched("lovelace", ["code"]) == []
    r = await wix.call(
        "POST", f"{CARDS}/search", {"search": {"search": {"expression": "ad", "fields": ["notificationInfo"]}}}
    )
    app_error(r, 400, "QUERY_NOT_INDEXED")
