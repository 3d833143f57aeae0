"""Webhook rules without I/O: subscriptions, secrets and signatures, the schedule, Retry-After,
refused destinations, and JSON written the way JavaScript writes it."""

from __future__ import annotations

import base64
import ipaddress
import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from giftwell.domain import jsjson
from giftwell.domain.errors import ValidationFailed
from giftwell.domain.webhooks import (
    EVENT_TYPES,
    JITTER,
    MAX_ATTEMPTS,
    SCHEDULE,
    Format,
    check_events,
    check_url,
    is_private,
    new_secret,
    retry_after,
    retry_delay,
    signature_headers,
    subscribed,
    x_signature,
)

ISSUE_EVENTS = [
    "order.completed",
    "order.failed",
    "order.partial",
    "card.created",
    "card.activated",
    "card.redeemed",
    "card.reloaded",
    "card.blocked",
    "card.unblocked",
    "card.disabled",
    "card.expired",
    "hold.expired",
    "delivery.sent",
    "delivery.failed",
]


def test_every_event_type_of_the_issue_is_registered():
    assert set(ISSUE_EVENTS) <= set(EVENT_TYPES)
    assert "webhook_endpoint.disabled" in EVENT_TYPES


def test_subscriptions():
    assert check_events(["*"], Format.NATIVE) == ("*",)
    assert check_events(["card.created", "card.created", "order.failed"], Format.NATIVE) == (
        "card.created",
        "order.failed",
    )
    with pytest.raises(ValidationFailed) as e:
        check_events(["card.created", "card.nope"], Format.NATIVE)
    assert e.value.param == "events[1]"
    with pytest.raises(ValidationFailed) as e:
        check_events(["order.completed", "card.created"], Format.WIZZGIFT)
    assert e.value.param == "events[1]"
    with pytest.raises(ValidationFailed):
        check_events(["*", "card.created"], Format.NATIVE)
    assert subscribed(["*"], "native", "card.redeemed")
    assert not subscribed(["*"], "native", "order.created")  # audit only
    assert subscribed(["*"], "wizzgift", "order.partial")
    assert not subscribed(["*"], "wizzgift", "card.created")
    assert not subscribed(["card.created"], "native", "card.redeemed")


def test_secret_format_and_both_signatures():
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:], validate=True)) == 32
    body = jsjson.dumps({"id": "evt_1", "name": "Zoë 🎁"})
    ts = int(datetime.now(UTC).timestamp())
    headers = signature_headers([secret], "evt_1", ts, body)
    assert Webhook(secret).verify(body, headers) == {"id": "evt_1", "name": "Zoë 🎁"}
    # X-Signature is keyed with the whole secret string, as the seed's createHmac gets it.
    import hashlib
    import hmac

    assert headers["X-Signature"] == hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert x_signature(secret, body) == headers["X-Signature"]
    old = new_secret()
    both = signature_headers([secret, old], "evt_1", ts, body)
    assert len(both["webhook-signature"].split(" ")) == 2
    assert both["X-Signature-Previous"] == x_signature(old, body)
    Webhook(old).verify(body, both)


def test_the_schedule_with_jitter():
    assert SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
    assert MAX_ATTEMPTS == 10
    for attempt in range(1, MAX_ATTEMPTS):
        low, high = retry_delay(attempt, 0.0), retry_delay(attempt, 0.999999)
        assert low is not None
        assert high is not None
        assert SCHEDULE[attempt] * (1 - JITTER) <= low <= high <= SCHEDULE[attempt] * (1 + JITTER)
    assert retry_delay(MAX_ATTEMPTS, 0.5) is None


def test_retry_after():
    now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after("120", now) == 120
    assert retry_after("0", now) == 1  # never sooner than a second
    assert retry_after("9999999", now) == 86400  # capped at a day
    assert retry_after("Tue, 01 Jan 2030 12:10:00 GMT", now) == 600
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("::ffff:127.0.0.1", True),
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
    ],
)
def test_private_addresses(address, private):
    assert is_private(ipaddress.ip_address(address)) is private


def test_endpoint_urls():
    assert check_url("https://hooks.example.com/x?y=1", allow_private=False)
    for bad in (
        "http://hooks.example.com/",  # plain http outside the embedded default
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://169.254.169.254/latest",
        "https://localhost/",
        "https://user:pw@hooks.example.com/",
        "ftp://hooks.example.com/",
        "https:///nohost",
        "https://hooks.example.com:99999/",
    ):
        with pytest.raises(ValidationFailed) as e:
            check_url(bad, allow_private=False)
        assert e.value.param == "url", bad
    assert check_url("http://127.0.0.1:8080/hook", allow_private=True)


def test_json_as_javascript_writes_it():
    assert jsjson.dumps({"b": 1, "a": [1, 2.0, True, None], "c": 'é\n"\\\x01'}) == (
        '{"b":1,"a":[1,2,true,null],"c":"é\\n\\"\\\\\\u0001"}'.encode()
    )
    # Array-index keys first, ascending, as JavaScript orders an object's own keys.
    assert jsjson.dumps({"b": 0, "10": 0, "2": 0, "02": 0, "-1": 0}) == b'{"2":0,"10":0,"b":0,"02":0,"-1":0}'
    assert jsjson.dumps({"s": "\ud800x\ud83d\ude00"}) == '{"s":"\\ud800x😀"}'.encode()
    for bad in (1.5, 2**53, float("nan")):
        with pytest.raises(ValueError):
            jsjson.dumps({"x": bad})
    assert json.loads(jsjson.dumps({"n": -(2**53 - 1)})) == {"n": -(2**53 - 1)}
