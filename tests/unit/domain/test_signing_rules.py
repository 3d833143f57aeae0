"""The rules of client-signed tokens: key ids, and the claims of a verified token against now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from giftwell.domain.errors import Unauthenticated, ValidationFailed
from giftwell.domain.signing import MAX_AGE, check_claims, check_kid

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
CLIENT = "0b7d7c8e-2f0c-4a53-9a51-6c1e1f0d6a11"


def claims(**kw):
    return {"iat": int(NOW.timestamp()), "apiClientId": CLIENT, **kw}


def reason(claims_: dict) -> str:
    with pytest.raises(Unauthenticated) as exc:
        check_claims(claims_, api_client_id=CLIENT, now=NOW)
    return exc.value.fields["reason"]


@pytest.mark.parametrize("kid", ["ce9fa03a-76d3-4495-bda1-e841e726088f", "Key.2026:A_b", "k" * 100])
def test_key_ids_are_case_sensitive_printable_tokens(kid):
    assert check_kid(kid) == kid


@pytest.mark.parametrize("kid", ["", " ", "a b", "k" * 101, "é", None, 7, "a\nb"])
def test_other_key_ids_are_refused(kid):
    with pytest.raises(ValidationFailed) as exc:
        check_kid(kid)
    assert exc.value.param == "kid"


def test_a_fresh_token_passes_and_its_jti_is_kept_for_the_window():
    got = check_claims(claims(jti="a-1"), api_client_id=CLIENT, now=NOW)
    assert (got.api_client_id, got.jti, got.issued_at) == (CLIENT, "a-1", NOW)
    assert got.keep_until == NOW + MAX_AGE


def test_the_freshness_window_edges():
    ts = int(NOW.timestamp())
    for iat in (ts - 300, ts + 60, ts - 299.5):
        check_claims(claims(iat=iat), api_client_id=CLIENT, now=NOW)
    assert reason(claims(iat=ts - 301)) == "invalid_token"
    assert reason(claims(iat=ts + 61)) == "invalid_token"


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ({"apiClientId": None}, "unknown_key"),
        ({"apiClientId": "another-client"}, "unknown_key"),
        ({"apiClientId": 5}, "unknown_key"),
        ({"iat": None}, "invalid_token"),
        ({"iat": "1765000000"}, "invalid_token"),
        ({"iat": True}, "invalid_token"),
        ({"iat": 10**15}, "invalid_token"),
        ({"exp": int(NOW.timestamp())}, "invalid_token"),
        ({"exp": "later"}, "invalid_token"),
        ({"nbf": int((NOW + timedelta(minutes=5)).timestamp())}, "invalid_token"),
        ({"jti": 12}, "invalid_token"),
        ({"jti": ""}, "invalid_token"),
        ({"jti": "x" * 201}, "invalid_token"),
    ],
)
def test_each_bad_claim_is_refused_with_its_reason(bad, why):
    assert reason(claims(**bad)) == why


def test_a_future_exp_is_fine():
    check_claims(claims(exp=int(NOW.timestamp()) + 30), api_client_id=CLIENT, now=NOW)
