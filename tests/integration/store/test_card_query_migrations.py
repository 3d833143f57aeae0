"""The card query's migrations on a database that already holds cards: down to the revision
before them and up again, the existing cards get their metadata rows, search text (their
deliveries' addresses and names included) and `disabled_at`, and the query finds them. Both
databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from giftwell.domain.cards import CardAction, Party
from giftwell.domain.delivery import Channel, Notification
from giftwell.services.cards import lifecycle
from giftwell.services.cards import query as card_query
from giftwell.services.delivery import deliveries
from giftwell.services.runtime import Runtime
from giftwell.store import migrate
from giftwell.store.models import CardSearch
from tests import factories

BEFORE = "0013_ops_key_rotations"


async def _migrate(rt: Runtime, revision: str, *, down: bool) -> None:
    cfg = migrate.alembic_config()

    def run(conn: sa.Connection) -> None:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)

    async with rt.engine.connect() as conn:
        await conn.run_sync(run)
        await conn.commit()


async def found(rt: Runtime, account_id: str, filter: dict) -> list[str]:
    async with rt.reader() as uow:
        page = await card_query.query_cards(uow, account_id=account_id, query=card_query.prepare(filter), limit=100)
    return [c.id for c in page.data]


async def test_existing_cards_are_filled_in_by_the_migrations(rt: Runtime) -> None:
    t = await factories.tenant(rt)
    kept = await factories.card(rt, t.account_id, recipient=Party("Ada Lovelace", "ada@x.example"), metadata={"n": 7})
    gone = await factories.card(rt, t.account_id)
    async with rt.uow() as uow:
        await deliveries.send(
            uow,
            account_id=t.account_id,
            card_id=gone.card.id,
            notification=Notification(Channel.EMAIL, "grace@navy.example", recipient_name="Grace Hopper"),
        )
        await lifecycle.change_status(uow, account_id=t.account_id, card_id=gone.card.id, action=CardAction.DISABLE)
        await uow.commit()
    async with rt.engine.connect() as conn:
        before = dict((await conn.execute(sa.select(CardSearch.card_id, CardSearch.body))).all())

    await _migrate(rt, BEFORE, down=True)
    assert await migrate.current_revision(rt.engine) == BEFORE
    await rt.engine.dispose()  # SQLite: no connection keeps the old schema
    await _migrate(rt, "head", down=False)

    async with rt.engine.connect() as conn:
        after = dict((await conn.execute(sa.select(CardSearch.card_id, CardSearch.body))).all())
    assert after == before  # the migration writes what the services write
    assert await found(rt, t.account_id, {"text": {"search": "lovelace"}}) == [kept.card.id]
    assert await found(rt, t.account_id, {"text": {"search": "hopper"}}) == [gone.card.id]
    assert await found(rt, t.account_id, {"metadata.n": {"eq": "7"}}) == [kept.card.id]
    assert await found(rt, t.account_id, {"disabled_at": {"exists": True}}) == [gone.card.id]
