"""Email transports: SMTP through aiosmtplib, or the mail folder."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from giftwell.adapters import mail_folder
from giftwell.domain.delivery import SendFailed, smtp_reply_is_permanent


class Mailer(Protocol):
    async def send(self, message: EmailMessage, *, delivery_id: str) -> str:
        """Send `message`; return the transport's id for it. Raises `SendFailed`."""
        ...


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None  # None: STARTTLS when the server offers it

    @classmethod
    def parse(cls, url: str) -> SmtpConfig:
        """`smtp://user:pass@host:587?starttls=true`; `smtps://` for TLS from the first byte.
        User and password are percent-decoded."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("GIFTWELL_SMTP_URL must look like smtp://user:pass@host:587?starttls=true")
        use_tls = parts.scheme == "smtps"
        query = {k.lower(): v[-1].lower() for k, v in parse_qs(parts.query).items()}
        flag = query.get("starttls")
        start_tls = None if flag is None else flag in ("1", "true", "yes", "on")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if use_tls else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=use_tls,
            start_tls=False if use_tls else start_tls,
        )


class SmtpMailer:
    """One connection per message: deliveries are spread over time and workers, so a pool would
    mostly hold idle connections that servers drop anyway."""

    def __init__(self, config: SmtpConfig, *, timeout: float) -> None:
        self.config = config
        self.timeout = timeout

    async def send(self, message: EmailMessage, *, delivery_id: str) -> str:
        c = self.config
        try:
            await aiosmtplib.send(
                message,
                hostname=c.host,
                port=c.port,
                username=c.username,
                password=c.password,
                use_tls=c.use_tls,
                start_tls=c.start_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            replies = [(r.code, r.message) for r in exc.recipients]
            permanent = bool(replies) and all(smtp_reply_is_permanent(code) for code, _ in replies)
            text = "; ".join(f"{code} {msg}" for code, msg in replies)
            raise SendFailed(f"recipient refused: {text}", permanent=permanent) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Our credentials, not the recipient: retried (and visible in the job log) until
            # an operator fixes GIFTWELL_SMTP_URL, rather than failing every message for good.
            raise SendFailed(f"SMTP authentication failed ({exc.code})", permanent=False) from None
        except aiosmtplib.SMTPResponseException as exc:
            permanent = smtp_reply_is_permanent(exc.code)
            raise SendFailed(f"SMTP {exc.code} {exc.message}", permanent=permanent) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendFailed(f"SMTP server unreachable: {type(exc).__name__}: {exc}", permanent=False) from None
        return str(message["Message-ID"] or delivery_id)


class FolderMailer:
    def __init__(self, directory: Path, clock: Callable[[], datetime]) -> None:
        self.directory = directory
        self.clock = clock

    async def send(self, message: EmailMessage, *, delivery_id: str) -> str:
        return await asyncio.to_thread(
            mail_folder.write_email, self.directory, message, delivery_id=delivery_id, now=self.clock()
        )
