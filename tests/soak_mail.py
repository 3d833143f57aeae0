"""The soak's email: cards issued with an email notification go to a real SMTP server (aiosmtpd on
loopback) that refuses or hangs on some first attempts, and rejects some addresses for good.

Each notification's address names its fate, so the model knows what to expect:

- `ok-...`: accepted at once;
- `busy-...`: the first attempt answered `451 4.3.0` (transient), the next ones accepted;
- `closing-...`: the first attempt answered `421 4.7.0` (the server closing; transient);
- `hang-...`: the first attempt left hanging past the sender's SMTP timeout, then accepted;
- `gone-...`: every attempt answered `550 5.1.1` (permanent): the delivery ends `failed` with the
  reply as its reason, the job done (the failure is the delivery's outcome).

At the end every delivery is final (`sent`, or `failed` with a reason for the `gone-` ones), none
left `queued`, and the server received each sent delivery's message (its `Message-ID` names the
delivery) at least once.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import TYPE_CHECKING, Any

import httpx
from aiosmtpd.controller import Controller

from tests.pg import free_port

if TYPE_CHECKING:
    from tests.soak import Soak

# The sender's SMTP timeout in the soak; a hanging first attempt sleeps past it.
SMTP_TIMEOUT = 1.0
FATES = (("ok", 0.70), ("busy", 0.10), ("closing", 0.07), ("hang", 0.05), ("gone", 0.08))


@dataclass
class FlakySmtp:
    """The handler: answers each RCPT by the address's fate; counts what it did."""

    tried: set[str] = field(default_factory=set)
    message_ids: set[str] = field(default_factory=set)
    refused: dict[str, int] = field(default_factory=dict)  # fate -> refusals and hangs done

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        fate = address.split("-", 1)[0]
        first = address not in self.tried
        self.tried.add(address)
        if fate == "gone":
            self.refused[fate] = self.refused.get(fate, 0) + 1
            return "550 5.1.1 no such user here"
        if first and fate in ("busy", "closing", "hang"):
            self.refused[fate] = self.refused.get(fate, 0) + 1
            if fate == "hang":
                await asyncio.sleep(SMTP_TIMEOUT + 1.0)
                return "451 4.4.2 timed out"
            return "451 4.3.0 mailbox busy, try again later" if fate == "busy" else "421 4.7.0 too busy, closing"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = BytesParser(policy=policy.default).parsebytes(envelope.content)
        self.message_ids.add(str(msg["Message-ID"]))
        return "250 Message accepted for delivery"


class SmtpPeer:
    def __init__(self) -> None:
        self.handler = FlakySmtp()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=false"

    def start(self) -> SmtpPeer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@dataclass
class Sent:
    card: str
    delivery: str
    fate: str


class Mail:
    """The deliveries the soak asked for, and the end's check of them."""

    def __init__(self, soak: Soak, peer: SmtpPeer) -> None:
        self.soak = soak
        self.peer = peer
        self.sent: list[Sent] = []

    def notification(self, rng: random.Random) -> dict[str, Any]:
        fate = rng.choices([f for f, _ in FATES], [w for _, w in FATES])[0]
        return {"channel": "email", "to": f"{fate}-{uuid.uuid4().hex[:12]}@soak.example", "recipient_name": "Soak"}

    def record(self, card_id: str, doc: dict[str, Any], notification: dict[str, Any]) -> None:
        assert doc["delivery"]["status"] in ("queued", "sent"), doc["delivery"]
        self.sent.append(Sent(card_id, doc["delivery"]["id"], notification["to"].split("-", 1)[0]))

    def soak_card(self, card_id: str) -> Any:
        return next(c for c in self.soak.all_cards if c.id == card_id)

    async def settle(self, http: httpx.AsyncClient, deadline: float) -> dict[str, Any]:
        """Wait until every delivery is final; each as its address's fate says."""
        outcomes: dict[str, int] = {}
        for s in self.sent:
            while True:
                status, doc = await self.soak.call(http, "GET", f"/v1/cards/{s.card}/deliveries")
                assert status == 200, doc
                [d] = [d for d in doc["data"] if d["id"] == s.delivery]
                if d["status"] in ("sent", "failed"):
                    break
                assert time.monotonic() < deadline, f"delivery {s.delivery} ({s.fate}) still {d}"
                await asyncio.sleep(0.5)
            if d["status"] == "failed":
                # A `gone-` address refused for good, or the card blocked before the message left
                # (the delivery then ends failed, as docs/delivery.md says).
                reason = d.get("reason") or ""
                blocked = self.soak_card(s.card).was_blocked and reason == "card is blocked"
                assert blocked or (s.fate == "gone" and "550" in reason), (s.fate, d)
            else:
                assert s.fate != "gone", d
                assert any(s.delivery in m for m in self.peer.handler.message_ids), (s, "no message received")
            outcomes[d["status"]] = outcomes.get(d["status"], 0) + 1
        return {
            "emails_sent": outcomes.get("sent", 0),
            "emails_failed_with_reason": outcomes.get("failed", 0),
            "smtp_refusals_and_hangs": dict(self.peer.handler.refused),
        }
