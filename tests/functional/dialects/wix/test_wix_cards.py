"""The Wix dialect's gift cards (seed 001, ../shared/dialects.md 3.2-3.4 and 3.6): create with
and without a code, the full code only in the create response, amounts as decimal strings never
rounded, code rules (428 INVALID_CODE), idempotent create, get, disable (then a redeem refused),
expiry, initial value unchanged while the balance moves, transactions, auth and error bodies.
Both databases."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.conftest import FakeClock
from tests.functional.dialects.wix.support import CARDS, Wix, app_error, field_error
from tests.functional.support import Api

MASKED = re.compile(r"^\*\*\*\*-\*\*\*\*-\*\*\*\*-[A-Z0-9]{4}$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_create_with_a_code_answers_the_seeds_fields_and_the_full_code_once(wix: Wix, clock: FakeClock) -> None:
    body = {
        "giftCard": {
            "initialValue": {"amount": "50.00"},
            "currency": "USD",
            "source": "MANUAL",
            "code": "ABCD1234EFGH4444",
            "expirationDate": "2027-12-31T23:59:59Z",
        },
        "idempotencyKey": "order-123-line-1",
    }
    created = (await wix.ok("POST", CARDS, body))["giftCard"]
    assert set(created) == {
        "id",
        "code",
        "codeSuffix",
        "initialValue",
        "balance",
        "currency",
        "source",
        "expirationDate",
        "createdDate",
        "updatedDate",
        "revision",
    }
    assert created["code"] == "ABCD1234EFGH4444"
    assert created["codeSuffix"] == "4444"
    assert created["initialValue"] == {"amount": "50.00"}
    assert created["balance"] == {"amount": "50.00"}
    assert created["currency"] == "USD"
    assert created["source"] == "MANUAL"
    assert created["expirationDate"] == "2027-12-31T23:59:59.000Z"
    assert STAMP.match(created["createdDate"])
    assert created["createdDate"] == created["updatedDate"]
    assert created["revision"].isdigit()

    got = (await wix.ok("GET", f"{CARDS}/{created['id']}"))["giftCard"]
    assert got["code"] == "****-****-****-4444"
    assert {k: v for k, v in got.items() if k != "code"} == {k: v for k, v in created.items() if k != "code"}
    # Masked everywhere after creation: query, search, list by email, disable.
    for found in (
        (await wix.query({"filter": {"code": {"$eq": "ABCD1234EFGH4444"}}}))["giftCards"],
        (await wix.ok("POST", f"{CARDS}/search", {"search": {"search": {"expression": "ABCD1234EFGH4444"}}}))[
            "giftCards"
        ],
    ):
        assert [c["code"] for c in found] == ["****-****-****-4444"]
    disabled = (await wix.ok("POST", f"{CARDS}/{created['id']}/disable", {}))["giftCard"]
    assert disabled["code"] == "****-****-****-4444"
    assert "ABCD1234EFGH4444" not in (await wix.call("GET", f"{CARDS}/{created['id']}")).text


async def test_create_without_a_code_generates_letters_and_digits(wix: Wix) -> None:
    created = await wix.create(source="ORDER")
    assert re.fullmatch(r"[0-9A-Z]{16}", created["code"]), created["code"]
    assert created["codeSuffix"] == created["code"][-4:]
    assert created["source"] == "ORDER"
    got = (await wix.ok("GET", f"{CARDS}/{created['id']}"))["giftCard"]
    assert MASKED.match(got["code"])
    assert got["code"].endswith(created["codeSuffix"])
    assert "expirationDate" not in got
    assert "disabledDate" not in got
    assert "notificationInfo" not in got


@pytest.mark.parametrize(
    ("currency", "amount", "shown"),
    [("USD", "10.5", "10.50"), ("USD", "0.01", "0.01"), ("JPY", "500", "500"), ("EUR", "1234567.89", "1234567.89")],
)
async def test_amounts_are_decimal_strings_with_the_currencys_places(
    wix: Wix, currency: str, amount: str, shown: str
) -> None:
    created = await wix.create(currency=currency, initialValue={"amount": amount})
    assert created["initialValue"] == created["balance"] == {"amount": shown}


@pytest.mark.parametrize(
    ("card", "field", "rule"),
    [
        ({"initialValue": {"amount": "50.001"}}, "giftCard.initialValue.amount", "DECIMAL_VALUE"),
        ({"currency": "JPY", "initialValue": {"amount": "500.5"}}, "giftCard.initialValue.amount", "DECIMAL_VALUE"),
        ({"initialValue": {"amount": 50}}, "giftCard.initialValue.amount", "DECIMAL_VALUE"),
        ({"initialValue": {"amount": 50.5}}, "giftCard.initialValue.amount", "DECIMAL_VALUE"),
        ({"initialValue": {"amount": "-5.00"}}, "giftCard.initialValue.amount", "DECIMAL_VALUE"),
        ({"initialValue": {"amount": "1e3"}}, "giftCard.initialValue.amount", "DECIMAL_VALUE"),
        ({"initialValue": {"amount": "99999999999999999.00"}}, "giftCard.initialValue.amount", "MAX"),
        ({"initialValue": {}}, "giftCard.initialValue.amount", "REQUIRED_FIELD"),
        ({"initialValue": None}, "giftCard.initialValue", "REQUIRED_FIELD"),
        ({"currency": None}, "giftCard.currency", "REQUIRED_FIELD"),
        ({"currency": "usd"}, "giftCard.currency", None),
        ({"currency": "XYZ"}, "giftCard.currency", None),
        ({"source": "GIFT"}, "giftCard.source", "INVALID_ENUM_VALUE"),
        ({"source": None}, "giftCard.source", "REQUIRED_FIELD"),
        ({"expirationDate": "2027-12-31T23:59:59"}, "giftCard.expirationDate", None),
        ({"expirationDate": "2000-01-01T00:00:00Z"}, "giftCard.expirationDate", None),
    ],
)
async def test_bad_fields_are_field_violations(wix: Wix, card: dict, field: str, rule: str | None) -> None:
    body = {"giftCard": {"initialValue": {"amount": "50.00"}, "currency": "USD", "source": "MANUAL", **card}}
    field_error(await wix.call("POST", CARDS, body), field, rule)


async def test_currency_nested_in_initial_value_is_refused_as_wix_does(wix: Wix) -> None:
    body = {"giftCard": {"initialValue": {"amount": "50.00", "currency": "USD"}, "source": "MANUAL"}}
    r = await wix.call("POST", CARDS, body)
    field_error(r, "giftCard.currency", "REQUIRED_FIELD")
    assert r.json() == {
        "message": "currency must not be empty",
        "details": {
            "validationError": {
                "fieldViolations": [
                    {"field": "giftCard.currency", "description": "must not be empty", "violatedRule": "REQUIRED_FIELD"}
                ]
            }
        },
    }
    field_error(await wix.call("POST", CARDS, content=b"[1]"), "body")
    field_error(await wix.call("POST", CARDS, content=b"{nope"), "body")


@pytest.mark.parametrize("code", ["ABCD-1234-EFGH", "ABCD 1234 EFGH", "ABC1234", "A" * 21, "ÄBCD1234EFGH", 12345678])
async def test_codes_other_than_8_to_20_letters_and_digits_are_428_invalid_code(wix: Wix, code: object) -> None:
    body = {"giftCard": {"initialValue": {"amount": "5.00"}, "currency": "USD", "source": "MANUAL", "code": code}}
    r = await wix.call("POST", CARDS, body)
    got = app_error(r, 428, "INVALID_CODE")
    assert got["message"] == "Gift Card Code can only contain letters(A-z) and numbers(0-9)"


async def test_a_code_already_used_is_409_and_another_account_may_use_it(wix: Wix, other_wix: Wix) -> None:
    await wix.create(code="SAMECODE1234")
    body = {"giftCard": {"initialValue": {"amount": "5.00"}, "currency": "USD", "source": "MANUAL"}}
    r = await wix.call("POST", CARDS, {"giftCard": {**body["giftCard"], "code": "samecode1234"}})
    app_error(r, 409, "CODE_ALREADY_EXISTS")
    assert (await other_wix.create(code="SAMECODE1234"))["code"] == "SAMECODE1234"


@pytest.mark.parametrize("inside", [False, True])
async def test_create_is_idempotent_by_key_beside_or_inside_the_gift_card(wix: Wix, inside: bool) -> None:
    card = {"initialValue": {"amount": "25.00"}, "currency": "EUR", "source": "MANUAL"}
    body = {"giftCard": {**card, "idempotencyKey": "k-1"}} if inside else {"giftCard": card, "idempotencyKey": "k-1"}
    first = await wix.call("POST", CARDS, body)
    again = await wix.call("POST", CARDS, body)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert (await wix.ok("POST", f"{CARDS}/count", {})) == {"count": 1}
    changed = {**body, "giftCard": {**body["giftCard"], "initialValue": {"amount": "26.00"}}}
    app_error(await wix.call("POST", CARDS, changed), 409, "IDEMPOTENCY_KEY_REUSED")
    assert (await wix.ok("POST", f"{CARDS}/count", {})) == {"count": 1}


async def test_balance_moves_initial_value_does_not_and_transactions_show_it(wix: Wix, rt, clock: FakeClock) -> None:
    created = await wix.create(initialValue={"amount": "50.00"})
    api = Api(wix.client, wix.tenant)
    clock.advance(minutes=1)
    moved = await api.post(f"/v1/cards/{created['id']}/redeem", {"amount": 1025, "reference": "order-9"})
    got = (await wix.ok("GET", f"{CARDS}/{created['id']}"))["giftCard"]
    assert got["initialValue"] == {"amount": "50.00"}
    assert got["balance"] == {"amount": "39.75"}
    # It rises with a refund (seed: "falls with purchases, rises with refunds").
    clock.advance(minutes=1)
    await api.post(f"/v1/transfers/{moved['id']}/refund", {"amount": 25})
    got = (await wix.ok("GET", f"{CARDS}/{created['id']}"))["giftCard"]
    assert (got["initialValue"], got["balance"]) == ({"amount": "50.00"}, {"amount": "40.00"})
    q = {"query": {"filter": {"giftCardId": {"$eq": created["id"]}}, "cursorPaging": {"limit": 1}}}
    page = await wix.ok("POST", f"{CARDS}/transactions/query-gift-card-transactions", q)
    (refund,) = page["transactions"]
    assert (refund["type"], refund["amount"], refund["balanceAfter"]) == (
        "REFUND",
        {"amount": "0.25"},
        {"amount": "40.00"},
    )
    q["query"]["cursorPaging"]["cursor"] = page["pagingMetadata"]["cursors"]["next"]
    page = await wix.ok("POST", f"{CARDS}/transactions/query-gift-card-transactions", q)
    (redeem,) = page["transactions"]
    assert redeem["type"] == "REDEEM"
    assert redeem["status"] == "POSTED"
    assert redeem["amount"] == {"amount": "-10.25"}
    assert redeem["balanceAfter"] == {"amount": "39.75"}
    assert redeem["reference"] == "order-9"
    assert redeem["giftCardId"] == created["id"]
    assert page["pagingMetadata"]["hasNext"] is True
    q["query"]["cursorPaging"]["cursor"] = page["pagingMetadata"]["cursors"]["next"]
    (activate,) = (await wix.ok("POST", f"{CARDS}/transactions/query-gift-card-transactions", q))["transactions"]
    assert (activate["type"], activate["amount"], activate["balanceAfter"]) == (
        "ACTIVATE",
        {"amount": "50.00"},
        {"amount": "50.00"},
    )


async def test_disable_sets_disabled_date_for_good_and_a_redeem_is_refused(wix: Wix, clock: FakeClock) -> None:
    created = await wix.create()
    clock.advance(minutes=5)
    disabled = (await wix.ok("POST", f"{CARDS}/{created['id']}/disable", {}))["giftCard"]
    assert STAMP.match(disabled["disabledDate"])
    assert disabled["disabledDate"] == disabled["updatedDate"] != created["updatedDate"]
    assert int(disabled["revision"]) > int(created["revision"])
    app_error(await wix.call("POST", f"{CARDS}/{created['id']}/disable", {}), 428, "GIFT_CARD_DISABLED")
    api = Api(wix.client, wix.tenant)
    r = await api.call("POST", f"/v1/cards/{created['id']}/redeem", {"amount": 100})
    assert r.status_code >= 400, r.text
    assert r.json()["error"]["code"] == "card_disabled", r.text
    got = (await wix.ok("GET", f"{CARDS}/{created['id']}"))["giftCard"]
    assert got["disabledDate"] == disabled["disabledDate"]
    assert got["balance"] == {"amount": "50.00"}
    assert (await wix.query({"filter": {"disabledDate": {"$exists": True}}}))["giftCards"][0]["id"] == created["id"]


async def test_expiry_empties_the_balance_and_keeps_the_initial_value(wix: Wix, clock: FakeClock) -> None:
    at = clock.now + timedelta(days=1)
    created = await wix.create(expirationDate=at.isoformat())
    clock.advance(days=2)
    got = (await wix.ok("GET", f"{CARDS}/{created['id']}"))["giftCard"]
    assert got["balance"] == {"amount": "0.00"}
    assert got["initialValue"] == {"amount": "50.00"}
    assert got["expirationDate"] == created["expirationDate"]
    assert "disabledDate" not in got


async def test_auth_accepts_a_bare_token_or_bearer_and_refuses_the_rest(wix: Wix, make_wix) -> None:
    created = await wix.create()
    path = f"{CARDS}/{created['id']}"
    bearer = await wix.call("GET", path, headers={"Authorization": f"Bearer {wix.tenant.token}"})
    assert bearer.status_code == 200, bearer.text
    app_error(await wix.client.get(path), 401, "UNAUTHENTICATED")
    app_error(await wix.call("GET", path, headers={"Authorization": "gw_not_a_token"}), 401, "UNAUTHENTICATED")
    reader = await make_wix(scopes=["cards:read"])
    app_error(await reader.call("POST", CARDS, {"giftCard": {}}), 403, "PERMISSION_DENIED")
    app_error(await reader.call("POST", f"{path}/disable", {}), 403, "PERMISSION_DENIED")


async def test_another_accounts_card_is_404_everywhere_and_unchanged(wix: Wix, other_wix: Wix) -> None:
    created = await wix.create()
    path = f"{CARDS}/{created['id']}"
    app_error(await other_wix.call("GET", path), 404, "GIFT_CARD_NOT_FOUND")
    app_error(await other_wix.call("POST", f"{path}/disable", {}), 404, "GIFT_CARD_NOT_FOUND")
    notice = {"recipientInfo": {"email": "x@example.com"}}
    app_error(await other_wix.call("POST", f"{path}/send-email", notice), 404, "GIFT_CARD_NOT_FOUND")
    q = {"query": {"filter": {"giftCardId": created["id"]}}}
    app_error(
        await other_wix.call("POST", f"{CARDS}/transactions/query-gift-card-transactions", q),
        404,
        "GIFT_CARD_NOT_FOUND",
    )
    got = (await wix.ok("GET", path))["giftCard"]
    assert "disabledDate" not in got
    assert "notificationInfo" not in got
    app_error(await wix.call("GET", f"{CARDS}/card_missing"), 404, "GIFT_CARD_NOT_FOUND")
    app_error(await wix.call("DELETE", path), 405, "METHOD_NOT_ALLOWED")
