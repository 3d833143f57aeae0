"""Pure rate-limit arithmetic: rates, windows, client addresses, the guessing odds."""

from __future__ import annotations

import pytest

from giftwell.domain import codes
from giftwell.domain.guessing import Odds
from giftwell.domain.ratelimit import Rate, client_address, ip_key, parse_networks
from giftwell.settings import Settings, parse_rate


def test_rate_parsing_uses_the_limits_notation():
    assert parse_rate("6000/minute") == Rate(6000, 60)
    assert parse_rate("100 per second") == Rate(100, 1)
    assert parse_rate("10/5 minutes") == Rate(10, 300)
    assert parse_rate("0") is None
    assert parse_rate("0/hour") is None
    with pytest.raises(ValueError):
        parse_rate("lots")


def test_settings_refuse_bad_limits():
    with pytest.raises(ValueError):
        Settings(rate_limit_per_ip="lots")
    with pytest.raises(ValueError):
        Settings(rate_limit_storage="postgres")
    with pytest.raises(ValueError):
        Settings(trusted_proxies="10.0.0.1, not-an-ip")


def test_storage_defaults_to_memory_embedded_and_database_otherwise():
    assert Settings().resolved_rate_limit_storage == "memory"
    assert Settings(database_url="postgresql://u@h/db").resolved_rate_limit_storage == "database"
    assert Settings(rate_limit_storage="redis://h:6379").resolved_rate_limit_storage == "redis://h:6379"


def test_default_limits_do_not_throttle_a_benchmark():
    """64 connections at a few thousand requests a second on one token stay under the defaults."""
    s = Settings()
    assert s.token_rate is not None
    assert s.ip_rate is not None
    assert s.token_rate.count / s.token_rate.seconds >= 5000
    assert s.ip_rate.count >= s.token_rate.count


def test_windows_are_aligned_to_the_epoch():
    r = Rate(10, 60)
    assert r.window_start(120.0) == 120
    assert r.window_start(179.9) == 120
    assert r.window_start(180.0) == 180


def test_ip_keys_group_ipv6_by_64():
    assert ip_key("203.0.113.7") == "203.0.113.7"
    assert ip_key("2001:db8:1:2:3:4:5:6") == ip_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert ip_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert ip_key("testclient") == "testclient"


def test_forwarded_for_is_believed_only_from_a_trusted_proxy():
    trusted = parse_networks("10.0.0.0/8, 127.0.0.1")
    assert client_address("198.51.100.1", ["203.0.113.9"], trusted) == "198.51.100.1"
    assert client_address("10.0.0.2", ["203.0.113.9"], trusted) == "203.0.113.9"
    # The client may write anything left of what our proxies appended: take the right-most
    # hop that is not one of ours.
    assert client_address("10.0.0.2", ["1.1.1.1, 203.0.113.9, 10.0.0.3"], trusted) == "203.0.113.9"
    assert client_address("10.0.0.2", ["1.1.1.1", "203.0.113.9"], trusted) == "203.0.113.9"
    assert client_address("10.0.0.2", [], trusted) == "10.0.0.2"
    assert client_address("10.0.0.2", ["203.0.113.9"], ()) == "10.0.0.2"


def test_odds_for_the_default_format_and_limits():
    odds = Odds(bits=codes.DEFAULT_FORMAT.entropy_bits, live_cards=10**8, max_failures=10, window_seconds=3600)
    assert odds.bits == 80
    assert odds.windows_per_year == 8766  # 365.25 days of hours
    assert odds.guesses_per_attacker == 87_660
    assert odds.guesses == 876_600_000  # 10,000 attackers
    assert odds.probability == pytest.approx(876_600_000 * 10**8 / 2**80)
    assert odds.probability == pytest.approx(7.25e-8, rel=1e-3)
    assert odds.acceptable


def test_odds_flag_a_weak_configuration():
    weak = Odds(bits=40, live_cards=10**6, max_failures=10, window_seconds=3600)
    assert weak.probability > 1e-6
    assert not weak.acceptable
    assert weak.as_dict()["acceptable"] is False
