"""The mail folder (`GIFTWELL_OUTBOX_DIR`, default `var/outbox/`): what would have been sent, as files, when a channel has no transport set
(the embedded default). Email as `.eml` (RFC 5322, open it in any mail client), SMS as JSON."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _write(directory: Path, name: str, data: bytes) -> Path:
    """Write atomically (a temporary file renamed into place), readable by the owner only: the
    messages carry reward links."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    tmp = directory / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.replace(path)
    return path


def _stem(delivery_id: str, now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%S')}-{_SAFE.sub('_', delivery_id)}"


def write_email(directory: Path, message: EmailMessage, *, delivery_id: str, now: datetime) -> str:
    path = _write(directory, _stem(delivery_id, now) + ".eml", message.as_bytes(policy=policy.SMTP))
    return path.name


def write_sms(directory: Path, *, to: str, sender: str | None, body: str, delivery_id: str, now: datetime) -> str:
    doc = {"channel": "sms", "to": to, "from": sender, "body": body, "delivery": delivery_id, "at": now.isoformat()}
    path = _write(directory, _stem(delivery_id, now) + ".sms.json", json.dumps(doc, indent=2).encode())
    return path.name


@dataclass(frozen=True, slots=True)
class Entry:
    file: str
    channel: str
    to: str
    subject: str | None
    delivery: str | None
    at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "channel": self.channel,
            "to": self.to,
            "subject": self.subject,
            "delivery": self.delivery,
            "at": self.at,
        }


def entries(directory: Path) -> list[Entry]:
    """Every message in the mail folder, oldest first."""
    if not directory.is_dir():
        return []
    out: list[Entry] = []
    for path in sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")):
        at = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
        if path.suffix == ".eml":
            with path.open("rb") as fh:
                msg = BytesParser(policy=policy.default).parse(fh, headersonly=True)
            out.append(
                Entry(
                    path.name, "email", str(msg["To"] or ""), str(msg["Subject"] or ""), msg["X-Giftwell-Delivery"], at
                )
            )
        elif path.name.endswith(".sms.json"):
            try:
                doc = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            out.append(Entry(path.name, "sms", str(doc.get("to", "")), None, doc.get("delivery"), doc.get("at") or at))
    return out
