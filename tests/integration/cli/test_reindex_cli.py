"""`giftwell db reindex-cards`: cards issued, sent or disabled by a previous version during a
rolling upgrade (no search text, no metadata rows, no `disabled_at`) are found by the card query
once it has run, and running it again changes nothing. Both databases."""

from __future__ import annotations

import json

import sqlalchemy as sa

from giftwell.domain.cards import CardAction, Party
from giftwell.domain.delivery import Channel, Notification
from giftwell.services.cards import lifecycle
from giftwell.services.cards import query as card_query
from giftwell.services.delivery import deliveries
from giftwell.services.runtime import Runtime
from giftwell.store.models import Card, CardMetadata, CardSearch
from tests import factories
from tests.integration.cli.test_reports_cli import env, invoke

__all__ = ["env"]


async def found(rt: Runtime, account_id: str, filter: dict) -> list[str]:
    async with rt.reader() as uow:
        page = await card_query.query_cards(uow, account_id=account_id, query=card_query.prepare(filter), limit=100)
    return [c.id for c in page.data]


async def test_reindex_catches_up_cards_of_the_previous_version(rt: Runtime, env: dict[str, str]) -> None:
    t = await factories.tenant(rt)
    kept = await factories.card(
        rt, t.account_id, recipient=Party("Ada Lovelace", "ada@x.example"), metadata={"shop": "north"}
    )
    sent = await factories.card(rt, t.account_id)
    gone = await factories.card(rt, t.account_id)
    async with rt.uow() as uow:
        await deliveries.send(
            uow,
            account_id=t.account_id,
            card_id=sent.card.id,
            notification=Notification(Channel.EMAIL, "grace@navy.example", recipient_name="Grace Hopper"),
        )
        await lifecycle.change_status(uow, account_id=t.account_id, card_id=gone.card.id, action=CardAction.DISABLE)
        await uow.commit()
    assert await found(rt, t.account_id, {"text": {"search": "hopper"}}) == [sent.card.id]
    # What the previous version would have left: none of the rows, no disabled_at.
    async with rt.uow() as uow:
        await uow.conn.execute(sa.delete(CardSearch))
        await uow.conn.execute(sa.delete(CardMetadata))
        await uow.conn.execute(sa.update(Card).values(disabled_at=None))
        await uow.commit()
    assert await found(rt, t.account_id, {"text": {"search": "lovelace"}}) == []
    assert await found(rt, t.account_id, {"metadata.shop": {"eq": "north"}}) == []

    for _ in range(2):
        code, out, _ = await invoke(env, "db", "reindex-cards", "--json")
        assert code == 0
        assert json.loads(out) == {"cards": 3}
        assert await found(rt, t.account_id, {"text": {"search": "lovelace"}}) == [kept.card.id]
        assert await found(rt, t.account_id, {"text": {"search": "hopper navy"}}) == [sent.card.id]
        assert await found(rt, t.account_id, {"metadata.shop": {"eq": "north"}}) == [kept.card.id]
        assert await found(rt, t.account_id, {"disabled_at": {"exists": True}}) == [gone.card.id]
