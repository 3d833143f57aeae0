from tests import factories


async def test_ping_names_the_tokens_account(rt, app_client):
    t = await factories.tenant(rt, scopes=["cards:read"])
    r = await app_client.get("/v1/ping", headers=t.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "account": t.account_id}


async def test_ping_refuses_a_bad_token(rt, app_client):
    r = await app_client.get("/v1/ping", headers={"Authorization": "Bearer gw_nope"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
