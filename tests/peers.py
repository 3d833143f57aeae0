"""Real peers on loopback for the delivery tests: an SMTP server (aiosmtpd) that can refuse
chosen attempts, and an HTTP server speaking Twilio's Messages API shape."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.pg import free_port


@dataclass
class SmtpHandler:
    """Accepts every message, but answers `refusals` (one reply per attempt, in order) first."""

    refusals: list[str] = field(default_factory=list)
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    attempts: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.attempts += 1
        if self.refusals:
            return self.refusals.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = BytesParser(policy=policy.default).parsebytes(envelope.content)
        self.messages.append(msg)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"giftwell", b"smtp-pass")
    return AuthResult(success=ok)


@contextmanager
def smtp_server(refusals: list[str] | None = None) -> Iterator[tuple[str, SmtpHandler]]:
    """An SMTP server on a loopback port; yields its `GIFTWELL_SMTP_URL` and its handler."""
    handler = SmtpHandler(list(refusals or []))
    port = free_port()
    # AUTH over plain loopback (no TLS here): the URL's credentials are checked, as a real relay would.
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=_authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield f"smtp://giftwell:smtp-pass@127.0.0.1:{port}?starttls=false", handler
    finally:
        controller.stop()


@dataclass
class SmsGateway:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@contextmanager
def twilio_gateway(statuses: list[int] | None = None) -> Iterator[SmsGateway]:
    """A Twilio-shaped Messages endpoint: form-encoded To/From/Body with Basic auth; answers 201
    with a `sid`, or the next status of `statuses` with Twilio's error JSON."""
    sid = "AC" + "0" * 32
    gw = SmsGateway(f"http://127.0.0.1:{free_port()}/2010-04-01/Accounts/{sid}/Messages.json", [], list(statuses or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            auth = self.headers.get("authorization", "")
            user = base64.b64decode(auth.split(" ", 1)[1]).decode() if auth.startswith("Basic ") else ""
            gw.requests.append(
                {"path": self.path, "form": form, "auth": user, "type": self.headers.get("content-type")}
            )
            status = gw.statuses.pop(0) if gw.statuses else 201
            if status == 201:
                body = {"sid": f"SM{len(gw.requests):032d}", "status": "queued", "to": form.get("To")}
            else:
                body = {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": status}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    port = int(gw.url.split(":")[2].split("/")[0])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gw
    finally:
        server.shutdown()
        server.server_close()
