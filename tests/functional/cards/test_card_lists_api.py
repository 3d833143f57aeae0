"""`GET /v1/cards`: each filter, each sort, and cursor pagination that visits every card once."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

from giftwell.services.runtime import Runtime
from tests import factories
from tests.conftest import FakeClock
from tests.functional.support import Api, ids

# --- list: filters ------------------------------------------------------------------------------


async def test_list_filters_each_field(api: Api, other: Api, clock: FakeClock) -> None:
    start = clock.now
    a = await api.new_card(
        "EUR", 1000, code="AAAA-BBBB-CCCC-1111", recipient={"email": "r1@x.com"}, sender={"email": "s1@x.com"}
    )
    clock.advance(minutes=1)
    b = await api.new_card(
        "EUR", None, code="AAAA-BBBB-CCCC-2222", recipient={"email": "r2@x.com"}, sender={"email": "s1@x.com"}
    )
    clock.advance(minutes=1)
    c = await api.new_card(
        "JPY", 500, code="AAAA-BBBB-CCCC-3333", recipient={"email": "r1@x.com"}, sender={"email": "s2@x.com"}
    )
    clock.advance(minutes=1)
    d = await api.new_card("EUR", 700, code="AAAA-BBBB-CCCC-1441")
    await api.post(f"/v1/cards/{d['id']}/block")
    clock.advance(minutes=1)
    e = await api.new_card("KWD", 9000, code="AAAA-BBBB-CCCC-ZZ9X", sender={"email": "s2@x.com"})
    await other.new_card(
        "EUR", 1000, code="AAAA-BBBB-CCCC-1111", recipient={"email": "r1@x.com"}, sender={"email": "s1@x.com"}
    )

    async def listed(**params: Any) -> set[str]:
        return set(ids(await api.list_all(**params)))

    assert await listed() == {a["id"], b["id"], c["id"], d["id"], e["id"]}
    assert await listed(status="active") == {a["id"], c["id"], e["id"]}
    assert await listed(status="inactive") == {b["id"]}
    assert await listed(status="blocked") == {d["id"]}
    assert await listed(status="disabled") == set()
    assert await listed(currency="EUR") == {a["id"], b["id"], d["id"]}
    assert await listed(currency="JPY") == {c["id"]}
    assert await listed(currency="USD") == set()
    assert await listed(recipient_email="r1@x.com") == {a["id"], c["id"]}
    assert await listed(recipient_email="R1@X.COM") == {a["id"], c["id"]}
    assert await listed(sender_email="s1@x.com") == {a["id"], b["id"]}
    assert await listed(sender_email="s2@x.com") == {c["id"], e["id"]}
    assert await listed(sender_email="nobody@x.com") == set()
    assert await listed(code_suffix="1111") == {a["id"]}
    assert await listed(code_suffix="11") == {a["id"]}
    assert await listed(code_suffix="41") == {d["id"]}
    assert await listed(code_suffix="1") == {a["id"], d["id"]}
    assert await listed(code_suffix="z9x") == {e["id"]}
    assert await listed(code_suffix="9-X") == {e["id"]}
    t_b = start + timedelta(minutes=1)
    t_d = start + timedelta(minutes=3)
    assert await listed(created_gte=t_b.isoformat()) == {b["id"], c["id"], d["id"], e["id"]}
    assert await listed(created_lte=t_b.isoformat()) == {a["id"], b["id"]}
    assert await listed(created_gte=t_b.isoformat(), created_lte=t_d.isoformat()) == {b["id"], c["id"], d["id"]}
    assert await listed(created_gte=(start + timedelta(hours=1)).isoformat()) == set()
    # Filters combine with AND.
    assert await listed(currency="EUR", status="active") == {a["id"]}
    assert await listed(recipient_email="r1@x.com", currency="JPY", code_suffix="3333") == {c["id"]}


async def test_list_filter_created_accepts_any_offset(api: Api, clock: FakeClock) -> None:
    start = clock.now
    first = await api.new_card()
    clock.advance(hours=2)
    second = await api.new_card()
    # The same instant written in Tokyo time selects the same cards.
    tokyo = (start + timedelta(hours=1)).astimezone(timezone(timedelta(hours=9)))
    assert ids(await api.list_all(created_gte=tokyo.isoformat())) == [second["id"]]
    assert ids(await api.list_all(created_lte=tokyo.isoformat())) == [first["id"]]


# --- list: sorts and pages ----------------------------------------------------------------------


async def test_list_sorts_by_each_key(api: Api, clock: FakeClock) -> None:
    made = []
    for balance in (300, 100, 500, 0, 200):
        made.append(await api.new_card("EUR", balance or None))
        clock.advance(seconds=1)
    oldest_first = ids(made)
    by_balance = [c["id"] for c in sorted(made, key=lambda c: c["balance"])]

    assert ids(await api.list_all()) == oldest_first[::-1]  # default: newest first
    assert ids(await api.list_all(sort="-created_at")) == oldest_first[::-1]
    assert ids(await api.list_all(sort="created_at")) == oldest_first
    assert ids(await api.list_all(sort="balance")) == by_balance
    assert ids(await api.list_all(sort="-balance")) == by_balance[::-1]
    # Each sort also pages correctly one card at a time.
    for sort, expected in (
        ("created_at", oldest_first),
        ("-created_at", oldest_first[::-1]),
        ("balance", by_balance),
        ("-balance", by_balance[::-1]),
    ):
        assert ids(await api.list_all(sort=sort, limit=1)) == expected, sort


async def test_pagination_walks_every_card_once_even_with_ties(api: Api, rt: Runtime, clock: FakeClock) -> None:
    made: list[str] = []
    # Many cards share a created_at (one clock reading) and a balance: the id breaks the ties.
    for i in range(23):
        issued = await factories.card(rt, api.tenant.account_id, amount=(i % 3) * 100 or None)
        made.append(issued.card.id)
        if i % 8 == 7:
            clock.advance(seconds=5)

    for sort in ("created_at", "-created_at", "balance", "-balance"):
        whole = await api.get("/v1/cards", params={"sort": sort, "limit": 100})
        assert whole["has_more"] is False
        assert whole["next_cursor"] is None
        expected = ids(whole["data"])
        assert sorted(expected) == sorted(made)

        walked: list[str] = []
        pages = 0
        params: dict[str, Any] = {"sort": sort, "limit": 5}
        while True:
            page = await api.get("/v1/cards", params=params)
            pages += 1
            assert len(page["data"]) == (5 if page["has_more"] else 3)
            walked += ids(page["data"])
            if not page["has_more"]:
                assert page["next_cursor"] is None
                break
            assert page["next_cursor"]
            params["cursor"] = page["next_cursor"]
        assert pages == 5
        assert walked == expected, sort
        assert len(set(walked)) == 23

        balances = [c["balance"] for c in whole["data"]]
        if sort == "balance":
            assert balances == sorted(balances)
        if sort == "-balance":
            assert balances == sorted(balances, reverse=True)


async def test_cursor_is_bound_to_its_sort_and_filters_apply_to_pages(api: Api, rt: Runtime) -> None:
    for i in range(4):
        await factories.card(rt, api.tenant.account_id, currency="EUR" if i % 2 else "JPY", amount=100 * (i + 1))
    page = await api.get("/v1/cards", params={"sort": "balance", "limit": 1})
    assert page["has_more"] is True
    for sort in ("-balance", "created_at", "-created_at"):
        await api.error(
            "GET",
            "/v1/cards",
            params={"sort": sort, "cursor": page["next_cursor"]},
            status=422,
            code="validation_error",
            param="cursor",
        )
    # The cursor works with its own sort, and filters still narrow the later pages.
    rest = await api.list_all(sort="balance", limit=1, cursor=page["next_cursor"], currency="EUR")
    assert [c["balance"] for c in rest] == [200, 400]


async def test_list_shows_only_the_callers_cards(api: Api, other: Api) -> None:
    mine = await api.new_card()
    await other.new_card()
    await other.new_card()
    assert ids(await api.list_all()) == [mine["id"]]
    page = await api.get("/v1/cards", params={"limit": 1})
    assert (ids(page["data"]), page["has_more"], page["next_cursor"]) == ([mine["id"]], False, None)


async def test_list_default_limit_is_20(api: Api, rt: Runtime) -> None:
    for _ in range(21):
        await factories.card(rt, api.tenant.account_id, amount=100)
    page = await api.get("/v1/cards")
    assert len(page["data"]) == 20
    assert page["has_more"] is True
    rest = await api.get("/v1/cards", params={"cursor": page["next_cursor"]})
    assert (len(rest["data"]), rest["has_more"]) == (1, False)


async def test_recipient_email_finds_cards_sent_later_by_send_and_resend(
    api: Api, other: Api, clock: FakeClock
) -> None:
    """A recipient named by `/send` or `/resend` (not at issue) is found by `recipient_email`,
    and only in the sending account's cards."""
    sent = await api.new_card("EUR", 1000)
    resent = await api.new_card("EUR", 1000, recipient={"email": "first@x.com"})
    untouched = await api.new_card("EUR", 1000)
    await api.post(f"/v1/cards/{sent['id']}/send", {"channel": "email", "to": "Later@X.com"}, status=201)
    await api.post(f"/v1/cards/{resent['id']}/send", {"channel": "email", "to": "first@x.com"}, status=201)
    clock.advance(minutes=1)  # past the resend interval
    await api.post(f"/v1/cards/{resent['id']}/resend", {"to": "later@x.com"}, status=201)
    theirs = await other.new_card("EUR", 1000)
    await other.post(f"/v1/cards/{theirs['id']}/send", {"channel": "email", "to": "later@x.com"}, status=201)

    async def listed(**params: Any) -> set[str]:
        return set(ids(await api.list_all(**params)))

    assert await listed(recipient_email="later@x.com") == {sent["id"], resent["id"]}
    assert await listed(recipient_email="LATER@x.com") == {sent["id"], resent["id"]}
    assert await listed(recipient_email="first@x.com") == {resent["id"]}
    assert untouched["id"] not in await listed(recipient_email="later@x.com")
    # An SMS delivery's number is not an email address.
    await api.post(f"/v1/cards/{untouched['id']}/send", {"channel": "sms", "to": "+15550100123"}, status=201)
    assert await listed(recipient_email="+15550100123") == set()
