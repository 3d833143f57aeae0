"""The soak's checks read from the database at the end: transfers per card (every acknowledged
operation present exactly once), what each expired card moved to breakage, and every job done or
dead with a reason (none left queued or running)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import sqlalchemy as sa

FINAL_JOB_STATES = ("done", "dead")


async def _query(db_url: str, sql: str) -> list[Any]:
    from giftwell.store.engine import create_engine

    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            return list(await conn.execute(sa.text(sql)))
    finally:
        await engine.dispose()


def transfer_counts(db_url: str) -> dict[str, int]:
    """Transfers touching each card, from the database (a card is the debit or credit side)."""
    rows = asyncio.run(
        _query(
            db_url,
            "SELECT c, count(*) FROM ("
            " SELECT card_id AS c FROM transfers WHERE card_id IS NOT NULL"
            " UNION ALL SELECT counterparty_card_id FROM transfers WHERE counterparty_card_id IS NOT NULL"
            ") t GROUP BY c",
        )
    )
    return {r[0]: int(r[1]) for r in rows}


def breakage_by_card(db_url: str) -> dict[str, int]:
    """What each card's `expire` transfer moved to breakage."""
    rows = asyncio.run(
        _query(db_url, "SELECT card_id, sum(amount) FROM transfers WHERE kind = 'expire' GROUP BY card_id")
    )
    return {r[0]: int(r[1]) for r in rows}


def jobs_final(db_url: str, *, wait: float) -> dict[str, Any]:
    """Wait until every job is done or dead; every dead one has its reason (`last_error`)."""
    deadline = time.monotonic() + wait
    while True:
        rows = asyncio.run(_query(db_url, "SELECT kind, state, count(*) FROM jobs GROUP BY kind, state"))
        open_ = [(r[0], r[1], int(r[2])) for r in rows if r[1] not in FINAL_JOB_STATES]
        if not open_:
            break
        if time.monotonic() > deadline:
            stuck = asyncio.run(
                _query(
                    db_url,
                    "SELECT id, kind, state, attempts, run_at, lease_until, last_error FROM jobs"
                    " WHERE state NOT IN ('done', 'dead') LIMIT 20",
                )
            )
            raise AssertionError(f"jobs neither done nor dead: {open_}; e.g. {[tuple(r) for r in stuck]}")
        time.sleep(0.5)
    unexplained = asyncio.run(
        _query(db_url, "SELECT id, kind FROM jobs WHERE state = 'dead' AND coalesce(last_error, '') = ''")
    )
    assert not unexplained, f"dead jobs without a reason: {[tuple(r) for r in unexplained]}"
    by_state: dict[str, int] = {}
    for r in rows:
        by_state[r[1]] = by_state.get(r[1], 0) + int(r[2])
    return {"jobs": by_state}


async def _finished_since(db_url: str, after: Any) -> bool:
    from giftwell.store.engine import create_engine
    from giftwell.store.models import Job

    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            q = sa.select(Job.id).where(Job.finished_at > after).limit(1)
            return (await conn.execute(q)).first() is not None
    finally:
        await engine.dispose()


def jobs_finished_since(db_url: str, after: Any) -> bool:
    """Whether a job finished after `after` (an aware datetime)."""
    return asyncio.run(_finished_since(db_url, after))
