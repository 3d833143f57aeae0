"""The hot paths' responses built as plain dicts (`card_json`, `movement_json`) are byte for byte
what the response models write (`CardOut`, `MovementOut` through `model_dump(mode="json")`)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from giftwell.api.v1.schemas.cards import CardOut, card_json
from giftwell.api.v1.schemas.transfers import MovementOut, movement_json
from giftwell.domain.cards import Card, CardSource, CardStatus, Party
from giftwell.domain.ledger import Transfer, TransferKind, TransferStatus
from giftwell.http.tx import json_response
from giftwell.services.cards.money import Movement

WHOLE = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
MICROS = datetime(2026, 12, 5, 12, 0, 0, 123, tzinfo=UTC)


def card(**kw: object) -> Card:
    base: dict[str, object] = {
        "id": "crd_1",
        "account_id": "acc_1",
        "ledger_account_id": "la_1",
        "code_last4": "AB12",
        "currency": "EUR",
        "initial_amount": 1000,
        "balance": 750,
        "available": 700,
        "status": CardStatus.ACTIVE,
        "status_reason": None,
        "activated_at": MICROS,
        "expires_at": None,
        "source": CardSource.MANUAL,
        "test": False,
        "serial": "S-1",
        "has_pin": True,
        "sender": Party("Ann", None),
        "recipient": Party(None, "bo@example.com"),
        "metadata": {"k": "v", "ü": "é"},
        "created_at": WHOLE,
        "updated_at": MICROS,
        "disabled_at": None,
    }
    return Card(**{**base, **kw})  # type: ignore[arg-type]


def transfer(**kw: object) -> Transfer:
    base: dict[str, object] = {
        "id": "trf_1",
        "account_id": "acc_1",
        "kind": TransferKind.REDEEM,
        "status": TransferStatus.POSTED,
        "currency": "EUR",
        "amount": 250,
        "debit_account_id": "la_1",
        "credit_account_id": "la_sys",
        "card_id": "crd_1",
        "counterparty_card_id": None,
        "debit_balance_after": 750,
        "credit_balance_after": None,
        "hold_amount": None,
        "expires_at": None,
        "refund_of": None,
        "refunded_amount": 0,
        "reference": "r-1",
        "reason": None,
        "created_at": MICROS,
        "posted_at": WHOLE,
    }
    return Transfer(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "c",
    [card(), card(status=CardStatus.BLOCKED, status_reason="lost", expires_at=WHOLE, disabled_at=MICROS, metadata={})],
)
def test_card_json_is_what_the_model_writes(c: Card) -> None:
    assert json_response(card_json(c)).body == json_response(CardOut.of(c)).body


@pytest.mark.parametrize(
    "t",
    [
        transfer(),
        transfer(
            kind=TransferKind.REFUND,
            status=TransferStatus.PENDING,
            debit_account_id="la_sys",
            credit_account_id="la_1",
            debit_balance_after=None,
            credit_balance_after=900,
            hold_amount=40,
            expires_at=MICROS,
            refund_of="trf_0",
            posted_at=None,
        ),
    ],
)
def test_movement_json_is_what_the_model_writes(t: Transfer) -> None:
    m = Movement(t, card())
    fast = json_response(movement_json(m)).body
    assert fast == json_response(MovementOut.of_movement(m)).body
    assert orjson.loads(fast)["card"]["created_at"] == "2026-12-05T12:00:00Z"
