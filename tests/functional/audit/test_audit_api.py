"""The audit log: every administrative action (funding, catalog, clients, tokens, users and roles,
card adjustments and blocks, webhook endpoints) is recorded in its own transaction with who did it,
from where and what changed; `GET /v1/audit-events` shows an account its own, filtered and paged;
the log refuses UPDATE and DELETE; `giftwell audit list` and `export` read every account's. Both
databases."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from giftwell.services.access import signing_keys, users
from giftwell.services.audit import actor
from giftwell.services.catalog.upstream import config as supplier_config
from giftwell.store.models import AuditEvent
from tests import factories, signing
from tests.conftest import TEST_SECRET
from tests.functional.support import expect_error
from tests.servers import cli, giftwell_env


async def events(http, t, **params) -> list[dict]:
    r = await http.get("/v1/audit-events", params=params, headers=t.headers)
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def test_api_actions_are_recorded_with_who_where_and_what(app_client, rt):
    http = app_client
    t = await factories.tenant(rt)
    other = await factories.tenant(rt)
    rid = {"X-Request-Id": "audit-probe-1"}
    card = (await http.post("/v1/cards", json={"currency": "EUR", "amount": 1000}, headers=t.headers)).json()["id"]
    r = await http.post(
        f"/v1/cards/{card}/adjust", json={"amount": -250, "reason": "goodwill"}, headers={**t.headers, **rid}
    )
    assert r.status_code == 200, r.text
    r = await http.post(f"/v1/cards/{card}/block", json={"reason": "fraud"}, headers=t.headers)
    assert r.status_code == 200, r.text
    r = await http.post(
        "/v1/clients",
        json={"name": "Till", "redirect_uris": ["https://till.example/cb"], "scopes": ["cards:read"]},
        headers=t.headers,
    )
    assert r.status_code == 201, r.text
    client_id = r.json()["client_id"]
    assert (await http.post(f"/v1/clients/{client_id}/rotate-secret", headers=t.headers)).status_code == 200

    seen = await events(http, t)
    actions = [e["action"] for e in seen]
    assert actions[:4] == ["client.secret_rotated", "client.created", "card.blocked", "card.adjusted"]
    adjusted = seen[3]
    assert adjusted["target"] == {"type": "card", "id": card}
    assert adjusted["changes"] == {
        "amount": -250,
        "currency": "EUR",
        "balance": [1000, 750],
        "reason": "goodwill",
        "transfer": adjusted["changes"]["transfer"],
    }
    assert adjusted["actor"]["type"] == "token"
    assert adjusted["actor"]["account_id"] == t.account_id
    assert adjusted["actor"]["id"].startswith("tok_")
    assert adjusted["actor"]["ip"] == "127.0.0.1"
    assert adjusted["actor"]["request_id"] == "audit-probe-1"
    assert seen[2]["changes"] == {"status": ["active", "blocked"], "reason": "fraud"}
    assert seen[1]["changes"]["scopes"] == ["cards:read"]
    # Secrets never reach the log.
    assert "client_secret" not in json.dumps(seen)
    assert r.json()["client_secret"] not in json.dumps(seen)

    # Filters: one action, a family, a time window; paging.
    assert [e["action"] for e in await events(http, t, action="card.blocked")] == ["card.blocked"]
    assert {e["action"] for e in await events(http, t, action="card.*")} == {"card.blocked", "card.adjusted"}
    assert await events(http, t, created_gte="2999-01-01T00:00:00Z") == []
    first = await http.get("/v1/audit-events", params={"limit": 2}, headers=t.headers)
    assert first.json()["has_more"] is True
    rest = await http.get(
        "/v1/audit-events", params={"limit": 100, "cursor": first.json()["next_cursor"]}, headers=t.headers
    )
    assert [e["id"] for e in first.json()["data"] + rest.json()["data"]] == [e["id"] for e in seen]

    # Another account sees none of it; bad input is a 422 naming the field.
    assert [e for e in await events(http, other) if e["target"]["id"] in (card, client_id)] == []
    expect_error(
        await http.get("/v1/audit-events", params={"cursor": "forged"}, headers=t.headers),
        422,
        "validation_error",
        "cursor",
    )
    expect_error(
        await http.get("/v1/audit-events", params={"created_gte": "2026-01-01T00:00:00"}, headers=t.headers),
        422,
        "validation_error",
        "created_gte",
    )
    expect_error(
        await http.get("/v1/audit-events", params={"limit": 0}, headers=t.headers), 422, "validation_error", "limit"
    )


async def test_operator_actions_funding_catalog_tokens_and_roles(rt):
    op = await factories.operator(rt)
    buyer = await factories.tenant(rt)
    actor.set_process_actor("cli", "ops@host-1")
    try:
        await factories.fund(rt, buyer.account_id, 5000, "USD")
        await factories.product(rt)
        await factories.product(rt, name="Renamed")
        await factories.product(rt, name="Renamed")  # no change: nothing recorded
        await factories.user(rt, buyer.account_id, email="viewer@shop.example", role="viewer")
        async with rt.uow() as uow:
            await users.change_role(uow, account_id=buyer.account_id, email="viewer@shop.example", role="admin")
            await users.change_role(uow, account_id=buyer.account_id, email="viewer@shop.example", role="admin")
            await uow.commit()
    finally:
        actor.set_process_actor("system", None)
    async with rt.reader() as uow:
        rows = (await uow.conn.execute(sa.select(AuditEvent).order_by(AuditEvent.occurred_at, AuditEvent.id))).all()
    got = [(r.action, r.account_id, r.actor_type, r.actor_id) for r in rows]
    cli_rows = [g for g in got if g[2] == "cli"]
    assert cli_rows == [
        ("funding.added", buyer.account_id, "cli", "ops@host-1"),
        ("product.created", op.account_id, "cli", "ops@host-1"),
        ("product.updated", op.account_id, "cli", "ops@host-1"),
        ("user.created", buyer.account_id, "cli", "ops@host-1"),
        ("user.role_changed", buyer.account_id, "cli", "ops@host-1"),
    ]
    by_action = {r.action: r for r in rows if r.actor_type == "cli"}
    assert by_action["funding.added"].changes == {"amount": 5000, "currency": "USD", "reference": None}
    assert by_action["product.updated"].changes == {"name": [factories.PRODUCT["name"], "Renamed"]}
    assert by_action["user.role_changed"].changes == {"role": ["viewer", "admin"]}
    assert "password" not in json.dumps([r.changes for r in rows])
    # The accounts and tokens the factories made were recorded too, by the system.
    assert ("account.created", buyer.account_id, "system", None) in got
    assert [g for g in got if g[0] == "token.created" and g[1] == buyer.account_id]


async def test_the_log_is_append_only(rt):
    await factories.tenant(rt)
    for stmt in (sa.update(AuditEvent).values(action="x"), sa.delete(AuditEvent)):
        async with rt.uow() as uow:
            with pytest.raises(DBAPIError, match="append-only"):
                await uow.conn.execute(stmt)
    async with rt.reader() as uow:
        assert await uow.conn.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) >= 2


async def test_a_rolled_back_action_leaves_no_record(app_client, rt):
    t = await factories.tenant(rt)
    card = (await app_client.post("/v1/cards", json={"currency": "EUR", "amount": 100}, headers=t.headers)).json()["id"]
    r = await app_client.post(
        f"/v1/cards/{card}/adjust", json={"amount": -500, "reason": "too much"}, headers=t.headers
    )
    assert r.status_code == 422
    assert await events(app_client, t, action="card.adjusted") == []


@pytest.mark.slow
def test_cli_lists_and_exports_every_account(db_url, tmp_path):
    import asyncio

    from giftwell.app import build_runtime
    from giftwell.settings import load_settings

    async def setup() -> None:
        rt = build_runtime(load_settings(database_url=db_url, data_dir=tmp_path / "var", secret_key=TEST_SECRET))
        try:
            a = await factories.tenant(rt, "alpha")
            await factories.tenant(rt, "beta")
            await factories.card(rt, a.account_id)
        finally:
            await rt.close()

    asyncio.run(setup())
    env = giftwell_env(db_url, tmp_path / "var", TEST_SECRET)
    code, _ = cli(env, "accounts", "create", "gamma")
    assert code == 0
    code, listed = cli(env, "audit", "list", "--action", "account.created")
    assert code == 0
    assert [e["changes"]["name"] for e in listed["data"]] == ["gamma", "beta", "alpha"]
    assert listed["data"][0]["actor"]["type"] == "cli"
    code, only = cli(env, "audit", "list", "--account", "alpha")
    assert {e["account_id"] for e in only["data"]} == {listed["data"][2]["account_id"]}
    code, out = cli(env, "audit", "export", str(tmp_path / "all.jsonl"))
    assert out["exported"] >= 5
    docs = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert len(docs) == out["exported"]
    assert [d["occurred_at"] for d in docs] == sorted(d["occurred_at"] for d in docs)
    code, out = cli(env, "audit", "export", str(tmp_path / "all.csv"), "--format", "csv", "--action", "account.*")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "all.csv").read_text())))
    assert [json.loads(r["changes"])["name"] for r in rows] == ["alpha", "beta", "gamma"]
    code, err = cli(env, "audit", "list", "--since", "yesterday", check=False)
    assert code == 2
    assert "--since" in err["error"]["message"]


async def test_signing_keys_and_suppliers_are_recorded_without_their_secrets(rt):
    buyer = await factories.tenant(rt)
    client = await signing.register(rt, buyer.account_id, kid="kid-audited")
    async with rt.uow() as uow:
        await signing_keys.revoke_key(uow, kid="kid-audited")
        await signing_keys.revoke_key(uow, kid="kid-audited")  # already revoked: nothing recorded
        await supplier_config.add_supplier(
            uow,
            name="upstream-b",
            kind="wizzgift",
            base_url="http://127.0.0.1:9/api/b2b",
            client_id="cid-b",
            client_secret="client-secret-never-logged",
        )
        await supplier_config.update_supplier(uow, name="upstream-b", refresh_token="refresh-never-logged")
        await uow.commit()
    async with rt.reader() as uow:
        rows = (await uow.conn.execute(sa.select(AuditEvent).order_by(AuditEvent.occurred_at, AuditEvent.id))).all()
    by_action = {}
    for r in rows:
        by_action.setdefault(r.action, []).append(r)
    assert [r.account_id for r in by_action["signing_key.added"]] == [buyer.account_id]
    assert by_action["signing_key.added"][0].changes["api_client_id"] == client.api_client_id
    assert [(r.target_id, r.account_id) for r in by_action["signing_key.revoked"]] == [
        ("kid-audited", buyer.account_id)
    ]
    created = by_action["supplier.created"]
    assert [r.changes["name"] for r in created] == ["upstream-b"]
    assert [r.changes for r in by_action["supplier.updated"]] == [{"refresh_token": "replaced"}]
    assert "never-logged" not in json.dumps([r.changes for r in rows])
