"""Giftwell as a client of a real WizzGift: the seed's own answers (the order, the webhook, both
catalog examples), as its server writes them, read by the adapter and taken into our catalog by
the sync, exactly (no float anywhere). Pure."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from giftwell.adapters.wizzgift import parse_order, parse_product
from giftwell.domain.errors import ValidationFailed
from giftwell.domain.suppliers import PurchaseStatus, UpstreamCard, outcomes
from giftwell.services.catalog.upstream.sync import patch_from
from tests.functional.dialects.wizzgift.test_wizzgift_contract import (
    ORDER_RESPONSE,
    PRODUCTS_RESPONSE,
    WEBHOOK_BODY,
)


def wire(example: Any) -> Any:
    """The example as the adapter reads it off the wire: numbers as exact decimals."""
    return json.loads(json.dumps(example), parse_float=Decimal, parse_int=Decimal)


def test_the_seed_s_order_and_webhook_are_read_whole():
    got = parse_order(wire(ORDER_RESPONSE)["data"])
    assert (got.id, got.reference_id, got.status, got.final, got.ordered_quantity) == (
        "order_987654321",
        "order_12345",
        "completed",
        PurchaseStatus.COMPLETED,
        1,
    )
    assert got.cards == (
        UpstreamCard(
            status="completed",
            code="ABCD-EFGH-IJKL-MNOP",
            pin="1234",
            serial="GC123456789",
            link="https://redeem.example.com/giftcard123",
            reward_id="reward_789",
            transaction_id="tx_987654321",
            expiry_date=date(2025, 12, 31),
            instruction="Follow the link and enter the code to redeem your gift card",
        ),
    )
    hook = parse_order(wire(WEBHOOK_BODY))
    assert [(c.code, c.pin, c.expiry_date) for c in hook.cards] == [
        ("1234556", "12345", date(2025, 2, 6)),
        ("6789010", "67890", date(2025, 3, 10)),
    ]
    assert outcomes(hook, 2) == list(hook.cards)


def test_what_the_seed_leaves_open_is_read_leniently():
    # The seed's table writes a card's status "completed " (a space); every field but status may
    # be absent; a partial order fails the cards it did not make.
    body = {**WEBHOOK_BODY, "status": "partial", "redeemInfos": [{"status": "completed "}, {"status": "failed "}]}
    got = parse_order(wire(body))
    assert (got.final, [c.status for c in got.cards]) == (PurchaseStatus.PARTIAL, ["completed", "failed"])
    assert outcomes(got, 3) == [got.cards[0], None, None]
    assert parse_order(wire({**body, "status": "processing"})).final is None
    for bad in ({"id": "x"}, {"status": "completed", "redeemInfos": {}}, {"status": "completed", "redeemInfos": [{}]}):
        with pytest.raises(ValueError):
            parse_order(wire(bad))


def test_the_seed_s_catalog_is_taken_exactly():
    paypal, ntc = (parse_product(p) for p in wire(PRODUCTS_RESPONSE)["data"])
    usd = patch_from(paypal, SimpleNamespace(currency="USD"))
    # min 0.01, max 2000, changeStep 0.1 USD: cents, exactly.
    assert usd["denominations"] == {"min": 1, "max": 200000, "step": 10}
    assert (usd["countries"], usd["categories"], usd["required_fields"]) == (["US"], ["payments"], [])
    assert usd["image_url"] == PRODUCTS_RESPONSE["data"][0]["image"]
    npr = patch_from(ntc, SimpleNamespace(currency="NPR"))
    assert npr["denominations"] == {"min": 1000, "max": 300000}  # no changeStep: any amount between
    assert npr["required_fields"] == [
        {
            "id": "7FeXMgqYEgndkQVuG8n1",
            "name": "mobile",
            "type": "input",
            "description": "phone",
            "required": True,
            "options": [],
        }
    ]
    with pytest.raises(ValidationFailed, match="NPR, not USD"):
        patch_from(ntc, SimpleNamespace(currency="USD"))
    # A step finer than the currency holds is refused, never rounded.
    fine = parse_product(wire({**PRODUCTS_RESPONSE["data"][0], "skus": [{"min": 1, "max": 2, "changeStep": 0.001}]}))
    with pytest.raises(ValidationFailed):
        patch_from(fine, SimpleNamespace(currency="USD"))
