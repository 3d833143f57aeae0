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


async def test_the_query_string_cannot_choose_how_the_token_is_read(rt, app_client):
    """authenticate's keyword arguments are the dialects' (a vendor header, a bare token), never
    the caller's: neither appears in the OpenAPI description, and in the query they do nothing."""
    t = await factories.tenant(rt, scopes=["cards:read"])
    spec = (await app_client.get("/openapi.json")).json()
    params = {p["name"] for p in spec["paths"]["/v1/ping"]["get"].get("parameters", [])}
    assert not params & {"header", "allow_bare"}
    r = await app_client.get("/v1/ping?header=x-anything", headers={"X-Anything": t.token})
    assert r.status_code == 401
    r = await app_client.get("/v1/ping?allow_bare=true", headers={"Authorization": t.token})
    assert r.status_code == 401
