"""Expiry policies: the account's (`PUT /v1/account/expiry-policy`) and a product's, checked at
issue with the rule named in the error; a card without expiry always passes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.expiry_policy import ExpiryPolicy
from giftwell.services.cards import issuing
from giftwell.services.runtime import Runtime
from tests import factories
from tests.functional.support import Api, expect_error

US = {"min_days": 1826, "rule": "US CARD Act: 5 years"}


async def test_the_account_policy_is_checked_at_issue_and_named_in_the_error(api: Api, clock):
    body = await api.ok("PUT", "/v1/account/expiry-policy", US)
    assert body["expiry_policy"] == US
    assert (await api.ok("GET", "/v1/account"))["expiry_policy"] == US
    soon = (clock.now + timedelta(days=365)).isoformat()
    r = await api.call("POST", "/v1/cards", {"currency": "EUR", "amount": 500, "expires_at": soon})
    err = expect_error(r, 422, "validation_error", "expires_at")
    assert "US CARD Act: 5 years" in err["message"]
    assert (err["rule"], err["policy"], err["min_days"]) == ("expiry_policy", "US CARD Act: 5 years", 1826)
    later = (clock.now + timedelta(days=1827)).isoformat()
    await api.ok("POST", "/v1/cards", {"currency": "EUR", "amount": 500, "expires_at": later}, status=201)
    await api.ok("POST", "/v1/cards", {"currency": "EUR", "amount": 500}, status=201)  # never expires
    r = await api.client.put(
        "/v1/account/expiry-policy", content=b"null", headers={**api.headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["expiry_policy"] is None
    await api.ok("POST", "/v1/cards", {"currency": "EUR", "amount": 500, "expires_at": soon}, status=201)


async def test_policy_inputs_are_checked(api: Api):
    for bad, param in (
        ({"min_days": 0, "rule": "x"}, "min_days"),
        ({"min_days": 30}, "rule"),
        ({"min_days": 30, "rule": ""}, "rule"),
        ({"min_days": "30", "rule": "x"}, "min_days"),
        ({"min_days": 30, "rule": "x", "extra": 1}, "extra"),
    ):
        await api.error("PUT", "/v1/account/expiry-policy", bad, status=422, code="validation_error", param=param)


async def test_a_product_policy_refuses_an_order_whose_cards_would_expire_too_soon(rt: Runtime, app_client, clock):
    buyer = await factories.buyer(rt)
    await factories.product(rt, id="short-lived", expiry_months=12, expiry_policy=US)
    api = Api(app_client, buyer)
    r = await api.call(
        "POST", "/v1/orders", {"reference": "policy-1", "items": [{"product": "short-lived", "amount": 1000}]}
    )
    err = expect_error(r, 422, "validation_error", "items[0].product")
    assert "US CARD Act: 5 years" in err["message"]
    assert err["rule"] == "expiry_policy"
    product = await api.ok("GET", "/v1/products/short-lived")
    assert product["expiry_policy"] == US


async def test_a_product_policy_is_checked_when_its_card_is_issued(rt: Runtime):
    t = await factories.tenant(rt)
    async with rt.uow() as uow:
        with pytest.raises(ValidationFailed) as err:
            await issuing.issue(
                uow,
                account_id=t.account_id,
                currency="EUR",
                amount=100,
                expires_at=uow.now + timedelta(days=30),
                product_policy=ExpiryPolicy(60, "two months"),
            )
    assert (err.value.param, err.value.fields["policy"]) == ("expires_at", "two months")
