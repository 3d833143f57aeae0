"""`/v1/clients` and the `giftwell users|clients` commands."""

from __future__ import annotations

import json

import sqlalchemy as sa
from typer.testing import CliRunner

from giftwell.cli.main import app as cli
from giftwell.store.models import OAuthClient
from tests import factories
from tests.conftest import TEST_SECRET

NEW = {
    "name": "Rewards backend",
    "redirect_uris": ["https://rewards.example/oauth/cb"],
    "scopes": ["cards:read", "orders:write"],
    "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
}


async def test_register_list_rotate_revoke(rt, app_client):
    t = await factories.tenant(rt)
    r = await app_client.post("/v1/clients", json=NEW, headers=t.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["client_id"].startswith("cli_")
    assert created["client_secret"].startswith("gws_")
    assert created["token_endpoint_auth_method"] == "client_secret_post"
    assert created["scopes"] == NEW["scopes"]
    cid = created["client_id"]

    listed = (await app_client.get("/v1/clients", headers=t.headers)).json()["data"]
    assert [c["client_id"] for c in listed] == [cid]
    assert "client_secret" not in listed[0]
    got = (await app_client.get(f"/v1/clients/{cid}", headers=t.headers)).json()
    assert "client_secret" not in got

    async with rt.uow() as uow:
        stored = (
            await uow.conn.execute(sa.select(OAuthClient.secret_hash).where(OAuthClient.client_id == cid))
        ).scalar_one()
    assert stored == rt.keys.token_hash(created["client_secret"])

    rotated = await app_client.post(f"/v1/clients/{cid}/rotate-secret", headers=t.headers)
    assert rotated.status_code == 200
    assert rotated.json()["client_secret"] not in {None, created["client_secret"]}
    assert rotated.json()["secret_rotated_at"] is not None

    revoked = await app_client.delete(f"/v1/clients/{cid}", headers=t.headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None


async def test_public_client_has_no_secret(rt, app_client):
    t = await factories.tenant(rt)
    body = {**NEW, "public": True, "grant_types": ["authorization_code", "refresh_token"]}
    r = await app_client.post("/v1/clients", json=body, headers=t.headers)
    assert r.status_code == 201, r.text
    assert r.json()["client_secret"] is None
    assert r.json()["token_endpoint_auth_method"] == "none"
    rot = await app_client.post(f"/v1/clients/{r.json()['client_id']}/rotate-secret", headers=t.headers)
    assert rot.status_code == 422


async def test_another_accounts_client_is_not_found(rt, app_client):
    owner = await factories.tenant(rt)
    other = await factories.tenant(rt)
    cid = (await app_client.post("/v1/clients", json=NEW, headers=owner.headers)).json()["client_id"]
    for method, path in [
        ("GET", f"/v1/clients/{cid}"),
        ("POST", f"/v1/clients/{cid}/rotate-secret"),
        ("DELETE", f"/v1/clients/{cid}"),
    ]:
        r = await app_client.request(method, path, headers=other.headers)
        assert r.status_code == 404, (method, path)
        assert r.json()["error"]["code"] == "not_found"
    assert (await app_client.get("/v1/clients", headers=other.headers)).json()["data"] == []


async def test_scopes_guard_the_routes(rt, app_client):
    reader = await factories.tenant(rt, scopes=["account:read"])
    r = await app_client.post("/v1/clients", json=NEW, headers=reader.headers)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "insufficient_scope"
    assert (await app_client.get("/v1/clients", headers=reader.headers)).status_code == 200
    r = await app_client.get("/v1/clients")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_no_escalation_through_registration(rt, app_client):
    limited = await factories.tenant(rt, scopes=["account:write", "cards:read"])
    r = await app_client.post(
        "/v1/clients", json={**NEW, "scopes": ["cards:read", "cards:redeem"]}, headers=limited.headers
    )
    assert r.status_code == 403
    full = await factories.tenant(rt)
    r = await app_client.post("/v1/clients", json={**NEW, "scopes": ["admin"]}, headers=full.headers)
    assert r.status_code == 422


async def test_registration_rules(rt, app_client):
    t = await factories.tenant(rt)
    bad = [
        {"redirect_uris": ["http://rewards.example/cb"]},  # plain http off loopback
        {"redirect_uris": ["https://rewards.example/cb#frag"]},
        {"redirect_uris": ["/relative"]},
        {"redirect_uris": []},  # the code flow needs one
        {"scopes": ["no:such"]},
        {"public": True},  # public + client_credentials
    ]
    for change in bad:
        r = await app_client.post("/v1/clients", json={**NEW, **change}, headers=t.headers)
        assert r.status_code == 422, change
    ok = {**NEW, "redirect_uris": ["http://127.0.0.1:9999/cb"]}
    assert (await app_client.post("/v1/clients", json=ok, headers=t.headers)).status_code == 201


def test_cli_users_and_clients(tmp_path, monkeypatch):
    monkeypatch.setenv("GIFTWELL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GIFTWELL_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("GIFTWELL_SECRET_KEY", TEST_SECRET)
    runner = CliRunner()
    assert runner.invoke(cli, ["accounts", "create", "acme", "--json"]).exit_code == 0
    r = runner.invoke(
        cli,
        [
            "users",
            "create",
            "--account",
            "acme",
            "--email",
            "Owner@Acme.example",
            "--role",
            "owner",
            "--password-stdin",
            "--json",
        ],
        input="a long enough password\n",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["email"] == "owner@acme.example"
    short = runner.invoke(
        cli,
        ["users", "create", "--account", "acme", "--email", "b@acme.example", "--password-stdin", "--json"],
        input="short\n",
    )
    assert short.exit_code == 1
    r = runner.invoke(
        cli,
        [
            "clients", "create", "--account", "acme", "--name", "Backend",
            "--redirect-uri", "https://acme.example/cb", "--scope", "cards:read", "--scope", "orders:write",
            "--grant", "authorization_code", "--grant", "refresh_token", "--grant", "client_credentials", "--json",
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    assert created["client_id"].startswith("cli_")
    assert created["client_secret"].startswith("gws_")
    r = runner.invoke(cli, ["clients", "rotate-secret", created["client_id"], "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["client_secret"] != created["client_secret"]
    missing = runner.invoke(cli, ["clients", "rotate-secret", "cli_nope", "--json"])
    assert missing.exit_code == 1
