"""The house supplier's cards of a fulfilment batch are made together (services/orders/
house_batch.py over services/cards/batch.py): a batch is one transaction whose statements do not
grow with its cards, a batch that fails half-way leaves nothing and a rerun makes exactly the
rest, and each card is what the one-by-one path made: the same card, ledger, card query, event,
webhook and reward-link rows, its code found by lookup. On both databases."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from giftwell.domain.orders import Mode
from giftwell.services.cards import reads
from giftwell.services.catalog import suppliers
from giftwell.services.delivery import reward
from giftwell.services.ledger import verify
from giftwell.services.orders import fulfilment, placing
from giftwell.services.orders.placing import ItemRequest, OrderRequest
from giftwell.services.runtime import Runtime
from giftwell.store.models import (
    Card,
    CardMetadata,
    CardSearch,
    Event,
    LedgerAccount,
    Order,
    OrderCard,
    RewardLink,
    Transfer,
    WebhookDelivery,
)
from tests import factories

PRICE = 1950  # acme-usd at 2000, less 2.5%
RECIPIENT = {"name": "Ada Lovelace", "email": "ada@example.com"}
SENDER = {"name": "Charles Babbage", "email": "cb@example.com"}


class PassThrough:
    """The house supplier behind another name: fulfilment makes its cards one by one."""

    async def issue(self, uow, req):
        return await suppliers.HouseSupplier().issue(uow, req)


@pytest.fixture(autouse=True)
def _registry(monkeypatch):
    monkeypatch.setattr(suppliers, "REGISTRY", dict(suppliers.REGISTRY))


@contextmanager
def counted(rt: Runtime) -> Iterator[dict[str, int]]:
    seen = {"statements": 0, "commits": 0}

    def statement(*_args) -> None:  # type: ignore[no-untyped-def]
        seen["statements"] += 1

    def commit(*_args) -> None:  # type: ignore[no-untyped-def]
        seen["commits"] += 1

    sa.event.listen(rt.engine.sync_engine, "before_cursor_execute", statement)
    sa.event.listen(rt.engine.sync_engine, "commit", commit)
    try:
        yield seen
    finally:
        sa.event.remove(rt.engine.sync_engine, "before_cursor_execute", statement)
        sa.event.remove(rt.engine.sync_engine, "commit", commit)


async def place(rt, t, quantity: int, reference: str, product: str = "acme-usd") -> str:
    item = ItemRequest(product, 2000, quantity, recipient=RECIPIENT, sender=SENDER)
    async with rt.uow() as uow:
        view = await placing.place_order(
            uow, account_id=t.account_id, req=OrderRequest(reference, [item], mode=Mode.ASYNC)
        )
        await uow.commit()
    return view.id


async def count(rt, model, *where) -> int:
    async with rt.reader() as uow:
        return int((await uow.conn.execute(sa.select(sa.func.count()).select_from(model).where(*where))).scalar_one())


async def ledger_ok(rt) -> None:
    async with rt.uow() as uow:
        report = await verify.verify(uow)
    assert report.ok, report.problems


async def test_a_batch_is_one_transaction_whose_statements_do_not_grow_with_its_cards(rt):
    t = await factories.buyer(rt, funds=1_000_000)
    await fulfilment.fulfil(rt, await place(rt, t, 1, "warm"))  # the issuer's system accounts exist
    runs = {}
    for n in (5, 60):
        order_id = await place(rt, t, n, f"o-{n}")
        with counted(rt) as seen:
            assert await fulfilment.fulfil(rt, order_id, batch_size=n + 1) == "completed"
        runs[n] = dict(seen)
        assert await count(rt, OrderCard, OrderCard.order_id == order_id, OrderCard.status == "issued") == n
    # one transaction for the whole batch, its end included, and as many statements for 60 cards
    # as for 5 (the one-by-one path took more than ten a card)
    assert runs[5]["commits"] == runs[60]["commits"] == 1
    assert runs[5]["statements"] == runs[60]["statements"] < 40
    await ledger_ok(rt)


async def test_a_batch_failing_half_way_leaves_nothing_and_a_rerun_issues_exactly_the_rest(rt, monkeypatch):
    t = await factories.buyer(rt, funds=1_000_000)
    order_id = await place(rt, t, 7, "crash")
    calls = []
    real = reward.add_links

    async def fail_second(uow, rows):
        # Called after the batch's cards, ledger rows, events and units are written.
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("connection lost")
        await real(uow, rows)

    monkeypatch.setattr(reward, "add_links", fail_second)
    with pytest.raises(RuntimeError):
        await fulfilment.fulfil(rt, order_id, batch_size=3)
    assert calls == [3, 3]
    # the first batch committed whole; the second left no row of any kind
    for model, n in [(Card, 3), (CardSearch, 3), (RewardLink, 3), (OrderCard, 3)]:
        where = [OrderCard.status == "issued"] if model is OrderCard else []
        assert await count(rt, model, *where) == n, model
    assert await count(rt, CardMetadata) == 3 * 3  # order, order_card, product
    assert await count(rt, LedgerAccount, LedgerAccount.kind == "card") == 3
    assert await count(rt, Transfer, Transfer.kind == "activate") == 3
    assert await count(rt, Event, Event.type.in_(["card.created", "card.activated"])) == 6
    async with rt.reader() as uow:
        assert await uow.conn.scalar(sa.select(Order.charged).where(Order.id == order_id)) == 3 * PRICE
    await ledger_ok(rt)

    monkeypatch.setattr(reward, "add_links", real)
    assert await fulfilment.fulfil(rt, order_id, batch_size=3) == "completed"
    assert await count(rt, Card) == await count(rt, RewardLink) == 7
    async with rt.reader() as uow:
        units = (await uow.conn.execute(sa.select(OrderCard).where(OrderCard.order_id == order_id))).all()
        made = (await uow.conn.execute(sa.select(Card.id, Card.metadata_.label("meta")))).all()
        assert await uow.conn.scalar(sa.select(Order.charged).where(Order.id == order_id)) == 7 * PRICE
    assert {u.status for u in units} == {"issued"}
    assert {u.card_id for u in units} == {m.id for m in made}
    assert Counter(m.meta["order_card"] for m in made) == Counter({u.id: 1 for u in units})
    await ledger_ok(rt)


def _shape(row, drop: set[str]) -> dict:
    return {k: v for k, v in row._mapping.items() if k not in drop}


async def test_batched_cards_are_what_the_one_by_one_path_made(rt):
    t = await factories.buyer(rt, funds=1_000_000)
    suppliers.REGISTRY["passthrough"] = PassThrough()
    await factories.product(rt, id="slow-usd", supplier="passthrough")
    orders = {"batched": await place(rt, t, 4, "b"), "single": await place(rt, t, 4, "s", product="slow-usd")}
    async with rt.reader() as uow:
        issuer = await uow.conn.scalar(sa.select(OrderCard.issuer_account_id).limit(1))
    await factories.webhook_endpoint(rt, issuer, "https://hooks.example/c", events=["card.created", "card.activated"])
    for order_id in orders.values():
        assert await fulfilment.fulfil(rt, order_id) == "completed"
    await ledger_ok(rt)

    shapes = {}
    keys = rt.keys
    async with rt.reader() as uow:
        c = uow.conn
        for path, order_id in orders.items():
            units = (await c.execute(sa.select(OrderCard).where(OrderCard.order_id == order_id))).all()
            ids = [u.card_id for u in units]
            cards = (await c.execute(sa.select(Card).where(Card.id.in_(ids)))).all()
            for u, card in zip(sorted(units, key=lambda u: u.card_id), sorted(cards, key=lambda x: x.id), strict=True):
                # the code: encrypted, hashed, found by lookup as any card's
                code, _ = await reads.reveal_code(uow, account_id=issuer, card_id=card.id)
                assert (await reads.lookup(uow, account_id=issuer, code=code)).id == card.id
                link = (await c.execute(sa.select(RewardLink).where(RewardLink.card_id == card.id))).one()
                assert link.token_hash == keys.link_hash(keys.link_token(u.id))
                assert card.metadata["order_card"] == u.id
            body = await c.scalars(sa.select(CardSearch.body).where(CardSearch.card_id.in_(ids)))
            meta = await c.execute(sa.select(CardMetadata.key, CardMetadata.value).where(CardMetadata.card_id.in_(ids)))
            las = await c.execute(
                sa.select(LedgerAccount).join(Card, Card.ledger_account_id == LedgerAccount.id).where(Card.id.in_(ids))
            )
            moves = await c.execute(sa.select(Transfer).where(Transfer.card_id.in_(ids), Transfer.kind == "activate"))
            events = await c.execute(sa.select(Event.type, Event.account_id).where(Event.subject_id.in_(ids)))
            hooks = await c.scalar(
                sa.select(sa.func.count())
                .select_from(WebhookDelivery)
                .join(Event, Event.id == WebhookDelivery.event_id)
                .where(Event.subject_id.in_(ids))
            )
            shapes[path] = {
                "cards": sorted(
                    str(
                        sorted(
                            _shape(
                                x,
                                {
                                    "id",
                                    "ledger_account_id",
                                    "code_hash",
                                    "code_encrypted",
                                    "code_last4",
                                    "metadata",
                                    "created_at",
                                    "updated_at",
                                    "activated_at",
                                    "expires_at",
                                },
                            ).items()
                        )
                    )
                    for x in cards
                ),
                "search": sorted("\n".join(b.split("\n")[:4]) for b in body),
                "meta": Counter(k for k, _ in meta),
                "ledger": sorted((x.kind, x.currency, int(x.balance), int(x.pending_out)) for x in las),
                "moves": sorted(
                    (x.status, x.currency, int(x.amount), x.credit_balance_after, x.debit_balance_after) for x in moves
                ),
                "events": Counter(tuple(e) for e in events),
                "webhooks": hooks,
            }
    assert shapes["batched"] == shapes["single"]
    assert shapes["batched"]["webhooks"] == 8
    assert shapes["batched"]["events"] == Counter({("card.created", issuer): 4, ("card.activated", issuer): 4})
