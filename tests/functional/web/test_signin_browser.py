"""Browser tests: sign-in, lockout, consent and the dashboard, driven in headless Chromium
(Debian's /usr/bin/chromium through Playwright) against a real uvicorn server on loopback, on
both databases. Screenshots go to test-artifacts/. Ends with a secret-hygiene check: no secret,
token, code or password of the flow appears in plain text in any table."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from giftwell.app import build_runtime, create_app
from giftwell.settings import Settings, load_settings
from giftwell.store.models import Base
from tests import factories
from tests.conftest import TEST_SECRET, FakeClock
from tests.oauth_flow import REDIRECT
from tests.pg import free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
WRONG = "definitely not the password"


@pytest.fixture
def live(db_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[tuple[str, Settings]]:
    with serve_live(db_url, tmp_path, clock) as served:
        yield served


@contextmanager
def serve_live(
    db_url: str, tmp_path: Path, clock: FakeClock, *, background: bool = False, **overrides: Any
) -> Iterator[tuple[str, Settings]]:
    """`giftwell serve` in miniature: the app under uvicorn on a loopback port, in a thread,
    sharing the test's clock (`background`: with its in-process job worker). Yields its base URL
    and settings."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(
        database_url=db_url, data_dir=tmp_path / "var", secret_key=TEST_SECRET, public_url=base, **overrides
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, clock=clock, background=background), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield base, settings
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def _seed(settings: Settings, clock: FakeClock) -> dict:
    rt = build_runtime(settings, clock=clock)
    try:
        t = await factories.tenant(rt, name="Acme Rewards")
        ann = await factories.user(rt, t.account_id, email="ann@acme.example", role="owner")
        bob = await factories.user(rt, t.account_id, email="bob@acme.example", role="admin")
        c = await factories.client(rt, t.account_id, name="Acme Backend", scopes=("cards:read", "account:read"))
        return {"ann": ann, "bob": bob, "client": c}
    finally:
        await rt.close()


async def _dump_text(settings: Settings) -> str:
    """Every value of every column of every table, as text."""
    rt = build_runtime(settings)
    chunks: list[str] = []
    try:
        async with rt.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                for row in await conn.execute(sa.select(table)):
                    for value in row:
                        if isinstance(value, bytes):
                            chunks.append(value.decode("latin-1"))
                        elif value is not None:
                            chunks.append(str(value))
    finally:
        await rt.close()
    return "\n".join(chunks)


def _authorize_path(client_id: str, state: str) -> str:
    q = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "cards:read account:read",
        "state": state,
    }
    return "/oauth/authorize?" + urlencode(q)


def _sign_in(page, email: str, password: str) -> None:
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_sign_in_consent_and_dashboard_in_chromium(live, clock, request):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: run `make test` (scripts/ensure-system-deps.sh chromium)")
    from playwright.sync_api import sync_playwright

    base, settings = live
    seed = asyncio.run(_seed(settings, clock))
    client = seed["client"]
    cid = client.client.client_id
    shots = ARTIFACTS / request.node.callspec.id
    shots.mkdir(parents=True, exist_ok=True)
    secrets_seen = [client.client_secret, factories.PASSWORD, WRONG]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context()
            # The client's redirect URI is not a real site: answer it in the browser.
            ctx.route("https://client.example/**", lambda route: route.fulfill(status=200, body="client callback"))
            page = ctx.new_page()

            # Not signed in: the authorize link leads to the sign-in page.
            page.goto(base + _authorize_path(cid, "st-1"))
            assert urlsplit(page.url).path == "/login"
            _sign_in(page, "ann@acme.example", WRONG)
            assert page.locator("#login-error").is_visible(), page.content()
            assert "Email or password is incorrect." in page.inner_text("#login-error")
            page.screenshot(path=shots / "signin-error.png", full_page=True)

            # Keyboard only: type, tab, type, Enter.
            page.fill("#email", "")
            page.focus("#email")
            page.keyboard.type("ann@acme.example")
            page.keyboard.press("Tab")
            page.keyboard.type(factories.PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url: urlsplit(url).path == "/oauth/authorize")
            assert "Acme Backend" in page.inner_text("h1")
            scopes = page.locator("ul.scopes li").all_inner_texts()
            assert len(scopes) == 2
            assert "Read cards and their transfers" in scopes[0]
            assert "cards:read" in scopes[0]
            assert "account:read" in scopes[1]
            page.screenshot(path=shots / "consent.png", full_page=True)
            page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=shots / "consent-mobile.png", full_page=True)
            page.set_viewport_size({"width": 1280, "height": 720})

            page.click("button[value=approve]")
            page.wait_for_url(lambda url: url.startswith(REDIRECT + "?"))
            got = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
            assert got["state"] == "st-1"
            code = got["code"]

            # The client exchanges the code over HTTP, with the seed's JSON body.
            r = httpx.post(
                base + "/oauth/token",
                json={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT,
                    "client_id": cid,
                    "client_secret": client.client_secret,
                },
            )
            assert r.status_code == 200, r.text
            tokens = r.json()
            listed = httpx.get(base + "/v1/clients", headers={"Authorization": f"Bearer {tokens['access_token']}"})
            assert listed.status_code == 200
            secrets_seen += [code, tokens["access_token"], tokens["refresh_token"]]

            # Signed in now: straight to consent; denying sends the RFC's error back.
            page.goto(base + _authorize_path(cid, "st-2"))
            page.click("button[value=deny]")
            page.wait_for_url(lambda url: url.startswith(REDIRECT + "?"))
            denied = parse_qs(urlsplit(page.url).query)
            assert denied["error"] == ["access_denied"]
            assert denied["state"] == ["st-2"]
            secrets_seen += [c["value"] for c in ctx.cookies() if c["name"] == "gw_session"]
            ctx.close()

            # Lockout: five failures, then even the right password is refused until it lifts.
            ctx = browser.new_context()
            page = ctx.new_page()
            page.goto(base + "/login")
            for _ in range(5):
                _sign_in(page, "bob@acme.example", WRONG)
                assert page.locator("#login-error").is_visible()
            _sign_in(page, "bob@acme.example", factories.PASSWORD)
            assert urlsplit(page.url).path == "/login"
            assert page.locator("#login-error").is_visible()
            page.screenshot(path=shots / "signin-locked.png", full_page=True)
            clock.advance(minutes=15, seconds=1)
            _sign_in(page, "bob@acme.example", factories.PASSWORD)
            assert urlsplit(page.url).path == "/dashboard"
            page.goto(base + "/dashboard/clients")
            assert "Acme Backend" in page.inner_text("table")

            # Register a client from the dashboard: the secret is shown once.
            page.fill("#name", "Acme Mobile")
            page.fill("#redirect_uris", "https://client.example/mobile")
            page.check("input[value='cards:read']")
            with page.expect_navigation():
                page.click("button:has-text('Register')")
            new_secret = page.inner_text("#client-secret")
            assert new_secret.startswith("gws_")
            page.screenshot(path=shots / "client-created.png", full_page=True)
            secrets_seen.append(new_secret)
            page.goto(base + "/dashboard/clients")
            assert "Acme Mobile" in page.content()
            assert new_secret not in page.content()
            page.screenshot(path=shots / "dashboard-clients.png", full_page=True)
            ctx.close()
        finally:
            browser.close()

    dump = asyncio.run(_dump_text(settings))
    assert "Acme Mobile" in dump  # the dump does see the tables
    for value in secrets_seen:
        assert value
        assert value not in dump, f"a secret of the flow is stored in plain text ({value[:4]}...)"
