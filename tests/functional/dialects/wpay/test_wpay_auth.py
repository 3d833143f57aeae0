"""The JWT attack table against Submit Order, on both databases: every forged, stale, replayed
or misattributed token is refused with the vendor's 401 code (AP01 for an unknown caller, AP02
for an unacceptable token), none is a 500, and none places an order. Then: the key's scopes,
rotation with two active keys, revocation, and X-Correlation-Id required and echoed."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from giftwell.services.access import signing_keys
from tests import signing
from tests.functional.delivery_support import runtime
from tests.functional.dialects.wpay.support import FUNDS, MOUNT, ORDERS, client, funding, seed, seed_text
from tests.signing import KeyPair, b64, hs256_with, unsigned


def tamper(token: str, **claims) -> str:
    """The token with claims changed in its payload and its signature left as it was."""
    h, c, s = token.split(".")
    payload = json.loads(signing.base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)))
    return f"{h}.{b64(json.dumps({**payload, **claims}).encode())}.{s}"


async def test_the_attack_table(make_app, clock):
    app = make_app(public_url="http://testserver")
    rt = runtime(app)
    wp = await client(app)
    other = (await client(app)).signer  # another account's client
    me = wp.signer
    now = clock()
    ts = int(now.timestamp())
    claims = me.claims(now)
    replayed = me.token(now)
    assert (await wp.call("POST", ORDERS, seed(clientOrderNumber="first"), token=replayed)).status_code == 200
    attacks = {
        "alg none": (unsigned({"alg": "none", "kid": me.kid}, claims), "AP02"),
        "alg none, no signature part": (unsigned({"alg": "none", "kid": me.kid}, claims)[:-1], "AP02"),
        "HS256 keyed with the public key": (
            hs256_with(me.keys.public_pem.encode(), {"alg": "HS256", "kid": me.kid}, claims),
            "AP02",
        ),
        "RS256 named": (unsigned({"alg": "RS256", "kid": me.kid}, claims, b"x" * 64), "AP02"),
        "wrong kid": (me.keys.sign({"alg": "ES256", "kid": str(uuid.uuid4())}, claims), "AP01"),
        "no kid": (me.keys.sign({"alg": "ES256"}, claims), "AP01"),
        "another client's kid, its own key": (other.keys.sign({"alg": "ES256", "kid": other.kid}, claims), "AP01"),
        "my kid, another client's key": (other.keys.sign({"alg": "ES256", "kid": me.kid}, claims), "AP02"),
        "expired (exp)": (me.token(now, exp=ts - 1), "AP02"),
        "stale (iat 6 minutes ago)": (me.token(now, iat=ts - 360), "AP02"),
        "future (iat in 2 minutes)": (me.token(now, iat=ts + 120), "AP02"),
        "replayed jti": (replayed, "AP02"),
        "missing apiClientId": (me.keys.sign({"alg": "ES256", "kid": me.kid}, {"iat": ts}), "AP01"),
        "missing iat": (me.keys.sign({"alg": "ES256", "kid": me.kid}, {"apiClientId": me.api_client_id}), "AP02"),
        "tampered payload (iat moved)": (tamper(me.token(now - timedelta(minutes=10)), iat=ts), "AP02"),
        "tampered payload (other client)": (tamper(other.token(now), apiClientId=me.api_client_id), "AP02"),
        "not a JWT": ("not-a-jwt", "AP02"),
        "a native API token": ("gw_" + "x" * 43, "AP02"),
    }
    for name, (token, code) in attacks.items():
        r = await wp.call("POST", ORDERS, seed(clientOrderNumber=f"attack-{name}"), token=token)
        assert r.status_code == 401, f"{name}: {r.status_code} {r.text}"
        assert r.json()["errorCode"] == code, f"{name}: {r.text}"
        assert r.json()["correlationId"] == "12313", name
    for headers in ({}, {"Authorization": "Basic eDp5"}, {"Authorization": "Bearer "}):
        r = await wp.call("POST", ORDERS, seed(), headers={"X-Correlation-Id": "c-1", **headers})
        assert (r.status_code, r.json()["errorCode"]) == (401, "AP01"), r.text
    # Only the first order exists: no attack placed one.
    assert await funding(rt, me.account_id) == (FUNDS - 4 * 4875, FUNDS - 4 * 4875)


async def test_scopes_rotation_and_revocation(make_app):
    app = make_app(public_url="http://testserver")
    rt = runtime(app)
    reader = await client(app, scopes=["orders:read"])
    err = await reader.refused("POST", ORDERS, seed(), status=401, code="AP01")
    assert "orders:write" in err["errorMessage"]

    wp = await client(app)
    old = wp.signer
    new = await signing.register(rt, old.account_id, api_client_id=old.api_client_id)
    for signer in (old, new):  # during a rotation, both keys sign
        r = await wp.call("GET", f"{ORDERS}/none", token=signer.token(rt.clock()))
        assert (r.status_code, r.json()["errorCode"]) == (404, "5318"), r.text
    async with rt.uow() as uow:
        await signing_keys.revoke_key(uow, kid=old.kid)
        await uow.commit()
    r = await wp.call("GET", f"{ORDERS}/none", token=old.token(rt.clock()))
    assert (r.status_code, r.json()["errorCode"]) == (401, "AP01")
    r = await wp.call("GET", f"{ORDERS}/none", token=new.token(rt.clock()))
    assert r.status_code == 404


async def test_correlation_id_is_required_and_echoed(make_app):
    app = make_app(public_url="http://testserver")
    wp = await client(app)
    for correlation in (None, "has space", "x" * 201):
        r = await wp.call("POST", ORDERS, seed_text().encode(), correlation=correlation)
        assert r.status_code == 400, r.text
        assert (r.json()["errorCode"], r.json()["field"]) == ("GC-4000", "X-Correlation-Id")
        assert "x-correlation-id" not in r.headers
    r = await wp.call("GET", f"{ORDERS}/nope", correlation="abc-123")
    assert (r.status_code, r.headers["x-correlation-id"], r.json()["correlationId"]) == (404, "abc-123", "abc-123")
    for method, path in (("GET", f"{MOUNT}/nothing"), ("GET", ORDERS), ("DELETE", f"{ORDERS}/x")):
        r = await wp.call(method, path, correlation="c-404")
        assert (r.status_code, r.json()["errorCode"], r.headers["x-correlation-id"]) == (404, "AP99", "c-404")
    # A second key pair of the same client is another key, not a way in.
    stranger = KeyPair()
    token = stranger.sign({"alg": "ES256", "kid": wp.signer.kid}, wp.signer.claims(wp.rt.clock()))
    r = await wp.call("POST", ORDERS, seed(), token=token)
    assert (r.status_code, r.json()["errorCode"]) == (401, "AP02")


async def test_another_accounts_order_is_not_there(make_app):
    app = make_app(public_url="http://testserver")
    a, b = await client(app), await client(app)
    placed = await a.submit(seed_text().encode())
    for method, path in (("GET", f"{ORDERS}/1234ABC"), ("POST", f"{ORDERS}/1234ABC/reverse")):
        err = await b.refused(method, path, None, status=404, code="5318")
        assert placed["orderNumber"] not in str(err)
    reversal = {"clientOrderNumber": "r-1", "originalClientOrderNumber": "1234ABC", "reversal": True}
    await b.refused("POST", ORDERS, reversal, status=404, code="5318")
    # A clientOrderNumber is unique per account: B's own 1234ABC is another order.
    mine = await b.submit(seed_text().encode())
    assert mine["orderNumber"] != placed["orderNumber"]
    assert (await a.call("GET", f"{ORDERS}/1234ABC")).json()["status"] == "COMPLETED"
