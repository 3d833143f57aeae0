"""SMS transports: an HTTP gateway speaking Twilio's Messages API, or the mail folder.

Twilio's shape: `POST {url}` (…/2010-04-01/Accounts/{AccountSid}/Messages.json), form-encoded
`To`, `From`, `Body`, HTTP Basic auth with the account SID and auth token; 201 with a JSON body
whose `sid` names the message; errors as JSON `{"code", "message", "status"}`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

import httpx

from giftwell.adapters import mail_folder
from giftwell.domain.delivery import SendFailed, sms_reply_is_permanent


class SmsSender(Protocol):
    async def send(self, *, to: str, body: str, delivery_id: str) -> str:
        """Send one text; return the gateway's id for it. Raises `SendFailed`."""
        ...


class TwilioSms:
    def __init__(
        self, url: str, *, sender: str, account_sid: str | None, auth_token: str | None, timeout: float
    ) -> None:
        self.url = url
        self.sender = sender
        self.auth: tuple[str | bytes, str | bytes] | None = (account_sid, auth_token or "") if account_sid else None
        self.timeout = timeout

    async def send(self, *, to: str, body: str, delivery_id: str) -> str:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                data = {"To": to, "From": self.sender, "Body": body}
                r = await (
                    client.post(self.url, data=data, auth=self.auth) if self.auth else client.post(self.url, data=data)
                )
        except httpx.HTTPError as exc:
            raise SendFailed(f"SMS gateway unreachable: {type(exc).__name__}", permanent=False) from None
        if r.status_code >= 300:
            detail = ""
            try:
                doc = r.json()
                detail = f" {doc.get('code', '')} {doc.get('message', '')}".rstrip()
            except ValueError:
                pass
            permanent = sms_reply_is_permanent(r.status_code)
            raise SendFailed(f"SMS gateway answered {r.status_code}{detail}"[:500], permanent=permanent)
        try:
            sid = r.json().get("sid")
        except ValueError:
            sid = None
        return str(sid or delivery_id)


class FolderSms:
    def __init__(self, directory: Path, clock: Callable[[], datetime], sender: str | None = None) -> None:
        self.directory = directory
        self.clock = clock
        self.sender = sender

    async def send(self, *, to: str, body: str, delivery_id: str) -> str:
        return await asyncio.to_thread(
            mail_folder.write_sms,
            self.directory,
            to=to,
            sender=self.sender,
            body=body,
            delivery_id=delivery_id,
            now=self.clock(),
        )
