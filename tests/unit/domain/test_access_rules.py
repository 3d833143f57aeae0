"""Pure access rules: redirect URI registration, client registration, emails, lockout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from giftwell.domain.access import ROLE_SCOPES, SCOPES, check_scopes, named_as_asked, scope_list
from giftwell.domain.clients import check_redirect_uri, check_registration
from giftwell.domain.contacts import check_email
from giftwell.domain.errors import ValidationFailed
from giftwell.domain.users import LockoutPolicy, check_password


@pytest.mark.parametrize(
    "uri", ["https://a.example/cb", "https://a.example/cb?x=1", "http://localhost:8080/cb", "http://127.0.0.1/cb"]
)
def test_acceptable_redirect_uris(uri):
    assert check_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    "uri", ["http://a.example/cb", "https://a.example/cb#f", "/cb", "a.example/cb", "javascript:alert(1)", ""]
)
def test_refused_redirect_uris(uri):
    with pytest.raises(ValidationFailed):
        check_redirect_uri(uri)


def test_registration_rules():
    ok = check_registration(
        redirect_uris=["https://a.example/cb"], scopes=["cards:read"], grant_types=["authorization_code"], public=True
    )
    assert ok == (("https://a.example/cb",), ("cards:read",), ("authorization_code",))
    for kw in [
        {"grant_types": ["client_credentials"], "public": True},
        {"scopes": ["admin"]},
        {"grant_types": ["refresh_token"]},
        {"redirect_uris": []},
        {"grant_types": ["implicit"]},
    ]:
        args = {
            "redirect_uris": ["https://a.example/cb"],
            "scopes": ["cards:read"],
            "grant_types": ["authorization_code"],
            "public": False,
        } | kw
        with pytest.raises(ValidationFailed):
            check_registration(**args)


def test_scopes_registry_and_roles():
    assert check_scopes(["orders:write", "webhooks:write", "admin"]) == ("orders:write", "webhooks:write", "admin")
    assert "admin" not in ROLE_SCOPES["owner"]
    assert ROLE_SCOPES["viewer"] == {"cards:read", "orders:read", "products:read", "account:read", "reports:read"}
    assert set(SCOPES) >= ROLE_SCOPES["admin"]
    assert scope_list(" cards:read  cards:read account:read ") == ["cards:read", "account:read"]


def test_emails_and_passwords():
    assert check_email("  Ann@Shop.Example ") == "ann@shop.example"
    with pytest.raises(ValidationFailed):
        check_email("not-an-email")
    with pytest.raises(ValidationFailed):
        check_password("short")


def test_lockout_policy():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    p = LockoutPolicy(max_failures=5, lock_for=timedelta(minutes=15))
    assert not p.trips(4)
    assert p.trips(5)
    until = p.locked_until(now)
    assert LockoutPolicy.is_locked(until, now + timedelta(minutes=14))
    assert not LockoutPolicy.is_locked(until, now + timedelta(minutes=15))
    assert not LockoutPolicy.is_locked(None, now)


def test_wizzgift_scope_names_map_onto_native_scopes():
    from giftwell.domain.access import alias_scope_string, native_scope_string

    assert check_scopes(["createOrder", "viewOrder", "viewProducts", "account"]) == (
        "orders:write",
        "orders:read",
        "products:read",
        "account:read",
    )
    # Given twice, once by each name: one scope.
    assert check_scopes(["orders:read", "viewOrder"]) == ("orders:read",)
    assert scope_list("createOrder cards:read") == ["orders:write", "cards:read"]
    assert native_scope_string("account createOrder") == "account:read orders:write"
    assert native_scope_string("createOrder nope") == "orders:write nope"  # left for the server to refuse
    assert alias_scope_string("account:read orders:write cards:read") == "account createOrder cards:read"
    with pytest.raises(ValidationFailed, match="createOrder"):
        check_scopes(["createorder"])  # names are case-sensitive; the message lists the known ones
    # The consent page names each granted scope as the request asked for it.
    granted = ["orders:write", "orders:read", "cards:read"]
    assert named_as_asked("createOrder orders:read cards:read", granted) == ["createOrder", "orders:read", "cards:read"]
    assert named_as_asked(None, granted) == granted


def test_a_client_given_wizzgift_names_always_gets_refresh_tokens():
    uris = ["https://a.example/cb"]
    _, scopes, grants = check_registration(
        redirect_uris=uris, scopes=["createOrder"], grant_types=["authorization_code"], public=False
    )
    assert (scopes, grants) == (("orders:write",), ("authorization_code", "refresh_token"))
    _, _, grants = check_registration(
        redirect_uris=uris, scopes=["orders:write"], grant_types=["authorization_code"], public=False
    )
    assert grants == ("authorization_code",)
    _, _, grants = check_registration(
        redirect_uris=[], scopes=["viewOrder"], grant_types=["client_credentials"], public=False
    )
    assert grants == ("client_credentials",)
