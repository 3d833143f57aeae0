"""The transports a runtime sends messages with, chosen from the settings: SMTP when
`GIFTWELL_SMTP_URL` is set, an SMS gateway when `GIFTWELL_SMS_URL` is, and otherwise the outbox
folder (`GIFTWELL_OUTBOX_DIR`, default `var/outbox/`), channel by channel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from giftwell.adapters import outbox
from giftwell.adapters.mail import Mailer, OutboxMailer, SmtpConfig, SmtpMailer
from giftwell.adapters.sms import OutboxSms, SmsSender, TwilioSms
from giftwell.settings import Settings


def mailer(settings: Settings, clock: Callable[[], datetime]) -> Mailer:
    if settings.smtp_url is None:
        return OutboxMailer(settings.resolved_outbox_dir, clock)
    config = SmtpConfig.parse(settings.smtp_url.get_secret_value())
    return SmtpMailer(config, timeout=settings.smtp_timeout_seconds)


def sms(settings: Settings, clock: Callable[[], datetime]) -> SmsSender:
    if settings.sms_url is None:
        return OutboxSms(settings.resolved_outbox_dir, clock, settings.sms_from)
    assert settings.sms_from is not None  # load_settings requires it with sms_url
    token = settings.sms_auth_token.get_secret_value() if settings.sms_auth_token else None
    return TwilioSms(
        settings.sms_url,
        sender=settings.sms_from,
        account_sid=settings.sms_account_sid,
        auth_token=token,
        timeout=settings.sms_timeout_seconds,
    )


def outbox_entries(settings: Settings) -> list[outbox.Entry]:
    """What the outbox folder holds (messages written instead of sent), oldest first."""
    return outbox.entries(settings.resolved_outbox_dir)
