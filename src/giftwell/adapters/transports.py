"""The transports a runtime sends messages with, chosen from the settings: SMTP when
`GIFTWELL_SMTP_URL` is set, an SMS gateway when `GIFTWELL_SMS_URL` is, and otherwise the mail
folder (`GIFTWELL_OUTBOX_DIR`, default `var/outbox/`), channel by channel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from giftwell.adapters import mail_folder
from giftwell.adapters.mail import FolderMailer, Mailer, SmtpConfig, SmtpMailer
from giftwell.adapters.sms import FolderSms, SmsSender, TwilioSms
from giftwell.settings import Settings


def mailer(settings: Settings, clock: Callable[[], datetime]) -> Mailer:
    if settings.smtp_url is None:
        return FolderMailer(settings.mail_dir, clock)
    config = SmtpConfig.parse(settings.smtp_url.get_secret_value())
    return SmtpMailer(config, timeout=settings.smtp_timeout_seconds)


def sms(settings: Settings, clock: Callable[[], datetime]) -> SmsSender:
    if settings.sms_url is None:
        return FolderSms(settings.mail_dir, clock, settings.sms_from)
    assert settings.sms_from is not None  # load_settings requires it with sms_url
    token = settings.sms_auth_token.get_secret_value() if settings.sms_auth_token else None
    return TwilioSms(
        settings.sms_url,
        sender=settings.sms_from,
        account_sid=settings.sms_account_sid,
        auth_token=token,
        timeout=settings.sms_timeout_seconds,
    )


def mail_folder_entries(settings: Settings) -> list[mail_folder.Entry]:
    """What the mail folder holds (messages written instead of sent), oldest first."""
    return mail_folder.entries(settings.mail_dir)
