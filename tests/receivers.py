"""A real webhook receiver: an HTTP server on a loopback port, in a thread of the test process,
that records every request (headers and raw body, at arrival) and answers each path from a plan.

    rx = Receiver({"/gone": [Reply(410)] * 99, "/slow": [Reply(200, delay=0.2)] * 99})
    rx.start()          # or later: a receiver "down" until then refuses connections
    url = rx.url("/gone")

A path's plan is consumed one reply per request; once it is used up, the answer is 200 "ok".
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.pg import free_port


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b"ok"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float
    reply: Reply = field(default_factory=Reply)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def answered(self) -> bool:
        """Answered 2xx at once (a delayed reply may have come after the sender gave up)."""
        return self.reply.status < 300 and not self.reply.delay


class Receiver:
    def __init__(self, plan: dict[str, list[Reply]] | None = None, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.plan = {k: list(v) for k, v in (plan or {}).items()}
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def by_path(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def _next(self, path: str, headers: dict[str, str]) -> Reply:
        """The reply to a request (`headers` with lower-case names): the path's plan, in order."""
        with self._lock:
            queue = self.plan.get(path)
            return queue.pop(0) if queue else Reply()

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = receiver._next(self.path, headers)
                with receiver._lock:
                    receiver.received.append(Received(self.path, headers, body, time.time(), reply))
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the sender gave up waiting (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# The seed's verification function (000_5d9cc550adb0d8a0.txt), verbatim, run on what a receiver
# got: the body parsed as Express would (UTF-8 text, JSON.parse), written again with
# JSON.stringify, and the X-Signature header.
SEED_VERIFY_JS = r"""
const crypto = require('crypto');
function verifyWebhookSignature(payload, signature, secret) {
  const hmac = crypto.createHmac('sha256', secret);
  const expectedSignature = hmac.update(payload).digest('hex');
  return expectedSignature === signature;
}
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map((c) => {
  const raw = Buffer.from(c.body, 'base64').toString('utf8');
  const payload = JSON.stringify(JSON.parse(raw));
  return {valid: verifyWebhookSignature(payload, c.signature, c.secret), identical: payload === raw};
});
process.stdout.write(JSON.stringify(out));
"""


def node_verify(cases: list[tuple[bytes, str, str]], tmp: Path) -> list[dict[str, bool]]:
    """Run the seed's verification in node on (body, X-Signature, secret) triples."""
    import base64

    script = tmp / "verify.js"
    script.write_text(SEED_VERIFY_JS)
    payload = json.dumps([{"body": base64.b64encode(b).decode(), "signature": s, "secret": k} for b, s, k in cases])
    proc = subprocess.run(["node", str(script)], input=payload, capture_output=True, text=True, timeout=60, check=True)
    result: list[dict[str, bool]] = json.loads(proc.stdout)
    return result
