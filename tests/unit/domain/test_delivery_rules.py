"""Delivery rules without a database: notification checks, statuses, and how a transport's
reply is judged (permanent or worth retrying)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from giftwell.adapters.mail import SmtpConfig
from giftwell.domain.delivery import (
    Channel,
    DeliveryStatus,
    Notification,
    check_notification,
    initial_status,
    sms_reply_is_permanent,
    smtp_reply_is_permanent,
)
from giftwell.domain.errors import ValidationFailed

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_addresses_are_normalised():
    n = check_notification(Notification(Channel.EMAIL, " Ada@Example.COM "), now=NOW)
    assert n.to == "ada@example.com"
    n = check_notification(Notification(Channel.SMS, "+44 (20) 7946-0958"), now=NOW)
    assert n.to == "+442079460958"


@pytest.mark.parametrize(
    ("n", "param"),
    [
        (Notification(Channel.EMAIL, "not-an-address"), "notification.to"),
        (Notification(Channel.EMAIL, "a@b.c", message="x" * 501), "notification.message"),
        (Notification(Channel.SMS, "0207 946 0958"), "notification.to"),
        (Notification(Channel.EMAIL, "a@b.co", image_url="javascript:alert(1)"), "notification.image_url"),
        (Notification(Channel.EMAIL, "a@b.co", scheduled_at=NOW + timedelta(days=400)), "notification.scheduled_at"),
        (Notification(Channel.EMAIL, "a@b.co", locale="<script>"), "notification.locale"),
    ],
)
def test_bad_notifications_name_the_field(n, param):
    with pytest.raises(ValidationFailed) as exc:
        check_notification(n, now=NOW)
    assert exc.value.param == param


def test_a_message_of_exactly_500_characters_is_fine_and_a_past_time_means_now():
    n = check_notification(Notification(Channel.EMAIL, "a@b.co", message="x" * 500, scheduled_at=NOW), now=NOW)
    assert n.scheduled_at is None
    assert initial_status(n.scheduled_at, NOW) is DeliveryStatus.QUEUED
    assert initial_status(NOW + timedelta(seconds=1), NOW) is DeliveryStatus.SCHEDULED


def test_replies_permanent_or_transient():
    assert [smtp_reply_is_permanent(c) for c in (421, 451, 452, 550, 553, 554)] == [False] * 3 + [True] * 3
    assert [sms_reply_is_permanent(s) for s in (400, 401, 404, 429, 500, 503)] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]


def test_smtp_urls():
    c = SmtpConfig.parse("smtp://us%40er:p%3Ass@mail.example:2525?starttls=true")
    assert (c.host, c.port, c.username, c.password, c.use_tls, c.start_tls) == (
        "mail.example",
        2525,
        "us@er",
        "p:ss",
        False,
        True,
    )
    c = SmtpConfig.parse("smtps://mail.example")
    assert (c.port, c.use_tls, c.start_tls) == (465, True, False)
    assert SmtpConfig.parse("smtp://mail.example").start_tls is None  # STARTTLS when offered
    with pytest.raises(ValueError):
        SmtpConfig.parse("http://mail.example")
