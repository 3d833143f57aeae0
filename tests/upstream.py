"""Two Giftwells on loopback for the upstream-supplier tests: B sells `acme-usd` from its own
ledger; A lists it as `acme-via-b`, bought from B through B's WizzGift dialect.

`seed_b` gives B an operator, the product, a funded account for A, an OAuth client registered
for WizzGift use (a refresh token obtained through B's own `/api/b2b/oauth/token`), and a webhook
endpoint in the WizzGift format pointing at A's receiver; `seed_a` gives A an operator, the
supplier `b` and the product, and a funded buyer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from giftwell.app import build_runtime, create_app
from giftwell.services.catalog.upstream import config as supplier_config
from giftwell.services.runtime import Runtime
from giftwell.services.webhooks import endpoints
from giftwell.settings import Settings, load_settings
from giftwell.store import migrate
from tests import factories
from tests.conftest import TEST_SECRET
from tests.oauth_flow import seed_tokens
from tests.pg import free_port

SUPPLIER = "b"
A_PRODUCT = "acme-via-b"
FUNDS_AT_B = 5_000_000
# A sells B's 10 USD card for 10 USD less 1 %; B sells it to A for 10 USD less 2.5 %.
A_PRICE = {"discount_bps": 100, "fee": 0}


def settings_for(db_url: str, data_dir: Path, port: int, **overrides: Any) -> Settings:
    overrides.setdefault("webhooks_allow_private", True)
    # Tests stop servers at once: jobs in flight go back to the queue, nobody waits for them.
    overrides.setdefault("worker_shutdown_grace_seconds", 0)
    return load_settings(
        database_url=db_url,
        data_dir=data_dir,
        secret_key=TEST_SECRET,
        public_url=f"http://127.0.0.1:{port}",
        port=port,
        **overrides,
    )


@contextmanager
def serve(settings: Settings, *, background: bool) -> Iterator[str]:
    """The app under uvicorn in a thread on `settings.port`, with an in-process worker when
    `background`; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, background=background), host="127.0.0.1", port=settings.port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "server exited while starting"
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


async def migrated(settings: Settings) -> None:
    rt = build_runtime(settings)
    try:
        await migrate.upgrade(rt.engine)
    finally:
        await rt.close()


async def seed_b(rt: Runtime, b_url: str, a_hook: str | None) -> dict[str, Any]:
    """B's side (see the module docstring). `a_hook`: A's receiver, or None for no webhook."""
    op = await factories.operator(rt)
    await factories.product(rt)
    a = await factories.tenant(rt, "giftwell-a")
    await factories.fund(rt, a.account_id, FUNDS_AT_B)
    async with httpx.AsyncClient(base_url=b_url) as http:
        tok = await seed_tokens(
            http, rt, a.account_id, name="Giftwell A", grant_types=("authorization_code", "client_credentials")
        )
    c = tok["client"]
    hook_secret = None
    if a_hook is not None:
        async with rt.uow() as uow:
            made = await endpoints.create_endpoint(
                uow, account_id=a.account_id, url=a_hook, events=["*"], format="wizzgift"
            )
            await uow.commit()
        hook_secret = made.secret
    return {
        "account_id": a.account_id,
        "operator": op,
        "client_id": c.client.client_id,
        "client_secret": c.client_secret,
        "refresh_token": tok["refresh_token"],
        "webhook_secret": hook_secret,
    }


async def seed_a(rt: Runtime, b_url: str, b: dict[str, Any], *, refresh: bool = True) -> factories.Tenant:
    """A's side: the supplier (with B's refresh token, or with client credentials only), the
    product, and a funded buyer (returned)."""
    await factories.operator(rt)
    async with rt.uow() as uow:
        await supplier_config.add_supplier(
            uow,
            name=SUPPLIER,
            kind="wizzgift",
            base_url=f"{b_url}/api/b2b",
            client_id=b["client_id"],
            client_secret=b["client_secret"],
            refresh_token=b["refresh_token"] if refresh else None,
            webhook_secret=b["webhook_secret"],
        )
        await uow.commit()
    await factories.product(
        rt,
        id=A_PRODUCT,
        name="Acme, bought from B",
        supplier=SUPPLIER,
        supplier_product="acme-usd",
        price=A_PRICE,
        expiry_months=None,
    )
    buyer = await factories.tenant(rt, "buyer-at-a")
    await factories.fund(rt, buyer.account_id, 1_000_000)
    return buyer


# -- a proxy that breaks things on purpose -------------------------------------------------------


@dataclass
class Fault:
    """Instead of forwarding: answer `status` with `body`. With `forward=True`: forward, then
    wait `delay` seconds before answering (the caller may die meanwhile)."""

    status: int = 500
    body: bytes = b'{"success":false,"message":"Something went wrong on our side"}'
    delay: float = 0.0
    forward: bool = False


@dataclass
class FaultProxy:
    """An HTTP proxy on a loopback port in front of `target`: every request is forwarded as it
    came, unless a planned fault for its (method, path) is left (consumed one per request).
    `seen` counts requests per (method, path)."""

    target: str
    plan: dict[tuple[str, str], list[Fault]] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    seen: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, method: str, path: str) -> int:
        with self._lock:
            return self.seen.get((method, path), 0)

    def start(self) -> FaultProxy:
        proxy = self
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                path = self.path.split("?", 1)[0]
                key = (self.command, path)
                with proxy._lock:
                    proxy.seen[key] = proxy.seen.get(key, 0) + 1
                    planned = proxy.plan.get(key) or []
                    fault = planned.pop(0) if planned else None
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if fault is not None and not fault.forward:
                    status, payload, ctype = fault.status, fault.body, "application/json"
                else:
                    headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                    r = httpx.request(self.command, proxy.target + self.path, content=body, headers=headers, timeout=30)
                    status, payload, ctype = r.status_code, r.content, r.headers.get("content-type", "")
                    if fault is not None:
                        time.sleep(fault.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the caller gave up (or died)

            do_GET = do_POST = _handle  # noqa: N815 - BaseHTTPRequestHandler's names

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
