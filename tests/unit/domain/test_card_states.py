"""The card state machine: every action from every status, and which money movements each admits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from giftwell.domain.cards import (
    TRANSITIONS,
    CardAction,
    CardStatus,
    allowed_sources,
    next_status,
    raise_for_status,
    require_usable,
)
from giftwell.domain.errors import (
    CardBlocked,
    CardDisabled,
    CardError,
    CardExpired,
    CardInactive,
    GiftwellError,
    InvalidState,
)

A, S = CardAction, CardStatus
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

# The whole table, written out by hand: a target status, or the error a refusal raises.
EXPECTED: dict[tuple[CardAction, CardStatus], CardStatus | type[GiftwellError]] = {
    (A.ACTIVATE, S.INACTIVE): S.ACTIVE,
    (A.ACTIVATE, S.ACTIVE): InvalidState,
    (A.ACTIVATE, S.BLOCKED): CardBlocked,
    (A.ACTIVATE, S.DISABLED): CardDisabled,
    (A.ACTIVATE, S.EXPIRED): CardExpired,
    (A.BLOCK, S.INACTIVE): S.BLOCKED,
    (A.BLOCK, S.ACTIVE): S.BLOCKED,
    (A.BLOCK, S.BLOCKED): CardBlocked,
    (A.BLOCK, S.DISABLED): CardDisabled,
    (A.BLOCK, S.EXPIRED): CardExpired,
    # UNBLOCK from BLOCKED depends on was_activated: tested below.
    (A.UNBLOCK, S.INACTIVE): CardInactive,
    (A.UNBLOCK, S.ACTIVE): InvalidState,
    (A.UNBLOCK, S.DISABLED): CardDisabled,
    (A.UNBLOCK, S.EXPIRED): CardExpired,
    (A.DISABLE, S.INACTIVE): S.DISABLED,
    (A.DISABLE, S.ACTIVE): S.DISABLED,
    (A.DISABLE, S.BLOCKED): S.DISABLED,
    (A.DISABLE, S.DISABLED): CardDisabled,
    (A.DISABLE, S.EXPIRED): CardExpired,
    (A.EXPIRE, S.INACTIVE): S.EXPIRED,
    (A.EXPIRE, S.ACTIVE): S.EXPIRED,
    (A.EXPIRE, S.BLOCKED): S.EXPIRED,
    (A.EXPIRE, S.DISABLED): CardDisabled,
    (A.EXPIRE, S.EXPIRED): CardExpired,
}


def test_the_expected_table_covers_every_action_and_status():
    covered = set(EXPECTED) | {(A.UNBLOCK, S.BLOCKED)}
    assert covered == {(a, s) for a in CardAction for s in CardStatus}


@pytest.mark.parametrize(("action", "status"), sorted(EXPECTED, key=str))
@pytest.mark.parametrize("was_activated", [False, True])
def test_every_action_from_every_status(action, status, was_activated):
    expected = EXPECTED[(action, status)]
    if isinstance(expected, CardStatus):
        assert next_status(action, status, was_activated=was_activated) is expected
        assert TRANSITIONS[action][status] is expected
        assert status in allowed_sources(action)
    else:
        with pytest.raises(GiftwellError) as exc:
            next_status(action, status, was_activated=was_activated)
        assert type(exc.value) is expected
        assert exc.value.param == "card"
        assert status not in TRANSITIONS[action]
        assert status not in allowed_sources(action)


@pytest.mark.parametrize(("was_activated", "back_to"), [(True, S.ACTIVE), (False, S.INACTIVE)])
def test_unblock_returns_to_where_the_card_was(was_activated, back_to):
    assert TRANSITIONS[A.UNBLOCK] == {S.BLOCKED: None}
    assert next_status(A.UNBLOCK, S.BLOCKED, was_activated=was_activated) is back_to


@pytest.mark.parametrize("start", [S.INACTIVE, S.ACTIVE])
def test_block_then_unblock_round_trips(start):
    was_activated = start is S.ACTIVE
    blocked = next_status(A.BLOCK, start, was_activated=was_activated)
    assert next_status(A.UNBLOCK, blocked, was_activated=was_activated) is start


@pytest.mark.parametrize("final", [S.DISABLED, S.EXPIRED])
def test_disabled_and_expired_are_final(final):
    for action in CardAction:
        with pytest.raises(CardError):
            next_status(action, final, was_activated=True)


def test_refusal_errors_have_stable_codes_and_statuses():
    assert (CardDisabled.code, CardExpired.code, CardBlocked.code, CardInactive.code) == (
        "card_disabled",
        "card_expired",
        "card_blocked",
        "card_inactive",
    )
    assert {CardDisabled.status, CardExpired.status, CardBlocked.status, CardInactive.status} == {422}
    assert (InvalidState.code, InvalidState.status) == ("invalid_state", 409)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (S.INACTIVE, CardInactive),
        (S.BLOCKED, CardBlocked),
        (S.DISABLED, CardDisabled),
        (S.EXPIRED, CardExpired),
    ],
)
def test_money_moves_only_on_an_active_card(status, error):
    with pytest.raises(error):
        require_usable(status, None, NOW)
    require_usable(S.ACTIVE, None, NOW)


def test_an_active_card_past_its_expiry_is_expired_before_the_sweep_runs():
    require_usable(S.ACTIVE, NOW + timedelta(seconds=1), NOW)
    with pytest.raises(CardExpired):
        require_usable(S.ACTIVE, NOW, NOW)  # expiry is exclusive: at expires_at the card is expired
    with pytest.raises(CardExpired):
        require_usable(S.ACTIVE, NOW - timedelta(days=1), NOW)
    # A disabled card says disabled even when also past its date; a blocked one says expired.
    with pytest.raises(CardDisabled):
        require_usable(S.DISABLED, NOW - timedelta(days=1), NOW)
    with pytest.raises(CardExpired):
        require_usable(S.BLOCKED, NOW - timedelta(days=1), NOW)


def test_raise_for_status_lets_activation_through_an_inactive_card():
    raise_for_status(S.INACTIVE, None, wanted="activate")
    raise_for_status(S.ACTIVE, None, wanted="use")
    with pytest.raises(CardInactive):
        raise_for_status(S.INACTIVE, None, wanted="use")
    # Without `now` the expiry date is not judged (only the status is).
    raise_for_status(S.ACTIVE, NOW - timedelta(days=1), wanted="use")
