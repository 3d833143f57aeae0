"""The WizzGift OAuth flow in headless Chromium: a client's authorize link on `/api/b2b` leads
through Giftwell's own sign-in and consent pages to a real redirect target on loopback, whose
code the client exchanges at `/api/b2b/oauth/token` with the seed's JSON body, then refreshes.
Both databases. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from giftwell.app import build_runtime
from tests import factories
from tests.functional.web.test_signin_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, serve_live
from tests.pg import free_port

pytestmark = pytest.mark.browser


@contextmanager
def callback_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """The client's redirect target: a real HTTP server on loopback recording each query."""
    got: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/callback":  # not the browser's own /favicon.ico
                got.append({k: v[0] for k, v in parse_qs(url.query).items()})
            body = b"<!doctype html><title>callback</title><p>Authorized: back at the client.</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/callback", got
    finally:
        server.shutdown()
        server.server_close()


async def _seed(settings, clock, redirect: str) -> dict[str, Any]:
    rt = build_runtime(settings, clock=clock)
    try:
        t = await factories.tenant(rt, name="Rewards Inc")
        await factories.user(rt, t.account_id, email="ann@rewards.example")
        c = await factories.client(
            rt,
            t.account_id,
            name="Rewards Backend",
            redirect_uris=(redirect,),
            scopes=("createOrder", "viewOrder", "viewProducts", "account"),
            grant_types=("authorization_code",),
        )
        return {"client": c}
    finally:
        await rt.close()


def test_wizzgift_authorize_in_chromium_to_a_loopback_callback(db_url, tmp_path, clock, request):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: run `make test` (scripts/ensure-system-deps.sh chromium)")
    from playwright.sync_api import sync_playwright

    shots = ARTIFACTS / ("wizzgift-" + request.node.callspec.id)
    shots.mkdir(parents=True, exist_ok=True)
    with serve_live(db_url, tmp_path, clock) as (base, settings), callback_server() as (redirect, got):
        c = asyncio.run(_seed(settings, clock, redirect))["client"]
        query = {
            "response_type": "code",
            "client_id": c.client.client_id,
            "redirect_uri": redirect,
            "scope": "createOrder viewOrder",
            "state": "wz-1",
        }
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_context().new_page()
                page.goto(f"{base}/api/b2b/oauth/authorize?{urlencode(query)}")
                assert urlsplit(page.url).path == "/login"
                page.fill("#email", "ann@rewards.example")
                page.fill("#password", factories.PASSWORD)
                with page.expect_navigation():
                    page.click("button[type=submit]")
                assert urlsplit(page.url).path == "/oauth/authorize"
                assert "Rewards Backend" in page.inner_text("h1")
                scopes = page.locator("ul.scopes li").all_inner_texts()
                # By the names the client asked with, each beside the native scope it stands for.
                shown = ["createOrder (Giftwell's orders:write)", "viewOrder (Giftwell's orders:read)"]
                assert len(scopes) == len(shown)
                assert all(s.endswith(name) for s, name in zip(scopes, shown, strict=True)), scopes
                page.screenshot(path=shots / "consent.png", full_page=True)
                page.click("button[value=approve]")
                page.wait_for_url(lambda url: url.startswith(redirect + "?"))
                assert "Authorized" in page.inner_text("p")
            finally:
                browser.close()
        (answer,) = got
        assert answer["state"] == "wz-1"
        creds = {"client_id": c.client.client_id, "client_secret": c.client_secret}
        r = httpx.post(
            f"{base}/api/b2b/oauth/token",
            json={"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": redirect, **creds},
        )
        assert r.status_code == 200, r.text
        assert list(r.json()) == ["access_token", "refresh_token", "token_type", "expires_in", "scope"]
        assert r.json()["scope"] == "createOrder viewOrder"
        refreshed = httpx.post(
            f"{base}/api/b2b/oauth/token",
            json={"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"], **creds},
        )
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["refresh_token_expires_in"] == 2592000
        auth = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        assert httpx.get(f"{base}/api/b2b/order?referenceId=none", headers=auth).status_code == 404
        products = httpx.get(f"{base}/api/b2b/products", headers=auth)
        assert products.status_code == 403  # viewProducts was not granted
        assert products.json()["message"] == "The access token must have the viewProducts scope."
