from giftwell.services.ledger import verify
from tests import factories


async def test_issue_and_redeem_balances(rt, app_client):
    t = await factories.tenant(rt)
    c = await factories.card(rt, t.account_id, amount=5000)
    r = await app_client.post(f"/v1/cards/{c.card.id}/redeem", json={"amount": 1250}, headers=t.headers)
    assert r.status_code == 200, r.text
    assert r.json()["card"]["balance"] == 3750
    async with rt.uow() as uow:
        report = await verify.verify(uow)
    assert report.ok, report.problems
