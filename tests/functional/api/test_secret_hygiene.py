"""Secret hygiene: the whole access flow runs with every logger at DEBUG, then every column of
every table is dumped. No password, session cookie, client secret, authorization code, PKCE
verifier, access or refresh token, card code (as shown or normalized) or PIN of the flow may
appear in plain text in the dump or the logs. Both databases."""

from __future__ import annotations

import logging
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

from giftwell.domain import codes
from giftwell.services.access import tokens as acce_tokens
from giftwell.telemetry import logs as telemetry_logs
from tests import dbdump, factories
from tests.functional.web.test_web_pages import authorize_url, csrf_of
from tests.oauth_flow import REDIRECT, pkce, token

# Authlib logs whole token responses at DEBUG; the app pins its loggers at INFO (see
# services/oauth/server.py) so that debug logging never writes tokens. Every other logger is
# opened up to DEBUG here, SQLAlchemy's statement and parameter log included.
PINNED = "authlib"


def debug_everything(caplog: pytest.LogCaptureFixture) -> None:
    """Every logger at DEBUG, and the captured text rendered as Giftwell writes its logs (one JSON
    object a line, with the request's and job's context), so the rendered lines are checked too."""
    caplog.handler.setFormatter(telemetry_logs.formatter("json"))
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] != PINNED:
            caplog.set_level(logging.DEBUG, logger=name)
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "giftwell", "httpx", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), repr(record.__dict__)]
    return "\n".join(parts)


async def test_no_secret_of_the_access_flow_is_stored_or_logged(app_client, rt, caplog):
    debug_everything(caplog)
    assert logging.getLogger(PINNED).getEffectiveLevel() >= logging.INFO
    http = app_client
    seen: dict[str, str] = {}

    # A tenant with a personal token, and a user with a password.
    t = await factories.tenant(rt)
    seen["tenant token"] = t.token
    password = "pw-" + secrets.token_urlsafe(18)
    seen["password"] = password
    await factories.user(rt, t.account_id, email="hygiene@shop.example", password=password)
    async with rt.uow() as uow:
        personal = await acce_tokens.create_token(uow, account_id=t.account_id, scopes=["cards:read"], name="till")
        await uow.commit()
    seen["personal token"] = personal.token

    # An API client registered over the API; its secret rotated once.
    made = await http.post(
        "/v1/clients",
        json={
            "name": "Hygiene",
            "redirect_uris": [REDIRECT],
            "scopes": ["cards:read", "cards:write", "account:read"],
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        },
        headers=t.headers,
    )
    assert made.status_code == 201, made.text
    client_id = made.json()["client_id"]
    seen["first client secret"] = made.json()["client_secret"]
    rotated = await http.post(f"/v1/clients/{client_id}/rotate-secret", headers=t.headers)
    assert rotated.status_code == 200, rotated.text
    client_secret = rotated.json()["client_secret"]
    seen["client secret"] = client_secret

    # Sign in (a failed attempt first), consent with PKCE, exchange the code.
    verifier, challenge = pkce()
    seen["PKCE verifier"] = verifier
    url = authorize_url(
        client_id, scope="cards:read cards:write", code_challenge=challenge, code_challenge_method="S256"
    )
    page = await http.get("/login", params={"next": url})
    form = {"email": "hygiene@shop.example", "csrf": csrf_of(page.text), "next": url}
    wrong = "wrong-" + secrets.token_urlsafe(12)
    seen["wrong password"] = wrong
    assert (await http.post("/login", data={**form, "password": wrong})).status_code == 401
    signed_in = await http.post("/login", data={**form, "password": password})
    assert signed_in.status_code == 303, signed_in.text
    seen["session cookie"] = http.cookies["gw_session"]
    consent = await http.get(url)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', consent.text))
    decided = await http.post("/oauth/authorize", data={**fields, "decision": "approve"})
    assert decided.status_code == 303, decided.text
    code = parse_qs(urlsplit(decided.headers["location"]).query)["code"][0]
    seen["authorization code"] = code
    creds = {"client_id": client_id, "client_secret": client_secret}
    r = await token(
        http, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier, **creds
    )
    assert r.status_code == 200, r.text
    tokens = r.json()
    seen["code-flow access token"] = tokens["access_token"]
    seen["code-flow refresh token"] = tokens["refresh_token"]

    # Refresh rotation, three times; then the client credentials grant.
    refresh = tokens["refresh_token"]
    for i in range(3):
        r = await token(http, grant_type="refresh_token", refresh_token=refresh, **creds)
        assert r.status_code == 200, r.text
        refresh = r.json()["refresh_token"]
        seen[f"rotation {i} access token"] = r.json()["access_token"]
        seen[f"rotation {i} refresh token"] = refresh
    r = await token(http, grant_type="client_credentials", scope="cards:read", **creds)
    assert r.status_code == 200, r.text
    seen["client-credentials access token"] = r.json()["access_token"]
    oauth_headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await http.get("/v1/cards", headers=oauth_headers)).status_code == 200

    # Cards: a supplied code with a PIN, a generated code, and an idempotent create whose stored
    # response holds the code.
    supplied = "HYG-" + secrets.token_hex(8).upper()
    pin = secrets.token_hex(8)
    r = await http.post(
        "/v1/cards", json={"currency": "EUR", "amount": 5000, "code": supplied, "pin": pin}, headers=t.headers
    )
    assert r.status_code == 201, r.text
    seen["supplied code"], seen["PIN"] = supplied, pin
    r = await http.post("/v1/cards", json={"currency": "EUR", "amount": 2500}, headers=oauth_headers)
    assert r.status_code == 201, r.text
    seen["generated code"] = r.json()["code"]
    key = {"Idempotency-Key": "hygiene-1"}
    r = await http.post("/v1/cards", json={"currency": "EUR", "amount": 100}, headers={**t.headers, **key})
    assert r.status_code == 201, r.text
    seen["idempotently created code"] = r.json()["code"]
    replay = await http.post("/v1/cards", json={"currency": "EUR", "amount": 100}, headers={**t.headers, **key})
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["code"] == seen["idempotently created code"]

    # Lookups (right, wrong PIN, by the personal token), the Sanctum dialect by code.
    lookup = {"code": supplied.lower(), "pin": pin}
    assert (await http.post("/v1/cards/lookup", json=lookup, headers=t.headers)).status_code == 200
    wrong_pin = {"code": supplied, "pin": secrets.token_hex(8)}
    assert (await http.post("/v1/cards/lookup", json=wrong_pin, headers=t.headers)).status_code == 404
    personal_headers = {"Authorization": f"Bearer {personal.token}"}
    generated = {"code": seen["generated code"]}
    assert (await http.post("/v1/cards/lookup", json=generated, headers=personal_headers)).status_code == 200
    r = await http.post("/api/giftcards/retrieve", json={"giftcard_code": seen["generated code"]}, headers=t.headers)
    assert r.status_code == 200, r.text

    # Revocation of the latest refresh token.
    assert (await http.post("/oauth/revoke", data={"token": refresh, **creds})).status_code == 200

    for name in ("supplied code", "generated code", "idempotently created code"):
        seen[f"{name}, normalized"] = codes.normalize(seen[name])

    dump = await dbdump.text(rt)
    logs = log_text(caplog)
    assert "Hygiene" in dump  # the dump does see the tables
    assert caplog.records  # and the logs were captured
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)  # statements, with parameters
    leaks = [
        f"{label} in the {where}"
        for label, value in seen.items()
        for where, text in (("database", dump), ("logs", logs))
        if value in text
    ]
    assert all(len(v) >= 12 for v in seen.values()), seen
    assert not leaks, leaks


async def test_no_reward_token_code_or_pin_of_a_delivery_is_stored_or_logged(make_app, caplog):
    """Deliveries too: a card sent by email and SMS (to the outbox), its page opened, revealed,
    resent, its balance checked. Neither the reward-link token, nor the code, nor the PIN may be
    in the database or the logs (the access log shows `/r/[redacted]`)."""
    from tests.functional.delivery_support import LINK, http, runtime, work

    debug_everything(caplog)
    app = make_app(public_url="http://testserver")
    rt = runtime(app)
    t = await factories.tenant(rt)
    pin = secrets.token_hex(6)
    async with http(app) as c:
        r = await c.post(
            "/v1/cards",
            json={
                "currency": "EUR",
                "amount": 1500,
                "pin": pin,
                "notification": {"channel": "email", "to": "ada@example.com", "message": "hygiene"},
            },
            headers=t.headers,
        )
        assert r.status_code == 201, r.text
        code = r.json()["code"]
        assert await work(app) == 1
        eml = next(rt.settings.mail_dir.glob("*.eml")).read_text()
        path = LINK.search(eml).group(0).replace("http://testserver", "")
        token = path.rsplit("/", 1)[1]
        page = await c.get(path)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        shown = await c.post(path + "/reveal", data={"csrf": csrf})
        assert code in shown.text
        form = await c.get("/balance")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        assert (await c.post("/balance", data={"csrf": csrf, "code": code, "pin": pin})).status_code == 200
    # The access log line as uvicorn writes it, through the filter the app installs.
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", path, "1.1", 200)
    dump = await dbdump.text(rt)
    # The test's own HTTP client logs each URL it fetches: that is the browser's side, not ours.
    records = [r for r in caplog.records if not (r.name == "httpx" and "HTTP Request" in r.getMessage())]
    logs = "\n".join(f"{r.name}: {r.getMessage()} {r.args!r} {r.__dict__!r}" for r in records)
    logs += "\n" + "\n".join(line for line in caplog.text.splitlines() if "HTTP Request" not in line)
    assert "hygiene" in dump
    assert "/r/[redacted]" in logs
    seen = {"token": token, "code": code, "normalized code": codes.normalize(code), "PIN": pin}
    leaks = [
        f"{k} in the {w}" for k, v in seen.items() for w, text in (("database", dump), ("logs", logs)) if v in text
    ]
    assert not leaks, leaks


async def test_no_webhook_secret_is_stored_or_logged(app_client, rt, clock, caplog):
    """Webhook secrets (as shown, their base64 part, their key bytes) appear nowhere in the
    database or the logs, through create, rotation and deliveries that succeed and fail."""
    import base64

    from tests.integration.webhook_support import drive
    from tests.receivers import Receiver, Reply

    debug_everything(caplog)
    rx = Receiver({"/fails": [Reply(500, body=b"nope")] * 3}).start()
    try:
        t = await factories.tenant(rt)
        seen: dict[str, str] = {}
        for name in ("ok", "fails"):
            r = await app_client.post(
                "/v1/webhook-endpoints", json={"url": rx.url(f"/{name}"), "events": ["*"]}, headers=t.headers
            )
            assert r.status_code == 201, r.text
            seen[f"{name} secret"] = r.json()["secret"]
            rotated = await app_client.post(f"/v1/webhook-endpoints/{r.json()['id']}/rotate-secret", headers=t.headers)
            assert rotated.status_code == 200, rotated.text
            seen[f"{name} rotated secret"] = rotated.json()["secret"]
        assert (
            await app_client.post("/v1/cards", json={"currency": "EUR", "amount": 100}, headers=t.headers)
        ).is_success
        await drive(rt, clock)
        assert rx.by_path("/ok")
        assert len(rx.by_path("/fails")) >= 4  # three failures, then delivered
    finally:
        rx.stop()
    for label, secret in list(seen.items()):
        seen[f"{label}, base64"] = secret.removeprefix("whsec_")
        seen[f"{label}, key bytes (hex)"] = base64.b64decode(secret.removeprefix("whsec_")).hex()
    dump = await dbdump.text(rt)
    logs = log_text(caplog)
    assert "webhook.deliver" in dump
    leaks = [
        f"{label} in the {where}"
        for label, value in seen.items()
        for where, text in (("database", dump), ("logs", logs))
        if value in text
    ]
    assert not leaks, leaks
