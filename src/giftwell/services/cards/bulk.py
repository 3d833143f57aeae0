"""Bulk issue (`giftwell cards issue-bulk`): many active cards of one value, batch by batch.

Each card is made as `issuing.issue` makes one with a value: a code generated from the format,
stored only as the account-scoped keyed hash and AES-GCM ciphertext (bound to the card id), its
guarded ledger account, and an `activate` transfer from the issuer's issuance account, so
`ledger verify` finds every card's balance equal to its transfers. What bulk issue leaves out:
the per-card `card.created`/`card.activated` events and their webhooks (a run is recorded in the
audit log instead), and supplied codes.

A run is a `bulk_issues` row. A batch is one transaction: it moves the run's `issued` on by a
compare-and-set (two processes resuming one run cannot both issue a batch) and inserts its cards,
ledger accounts and transfers through `cards.batch` (COPY on PostgreSQL, executemany on SQLite). The codes leave only
through the caller (`write` before the commit; see the CLI), so a crash loses at most the batch
in flight, which never committed and is made afresh on restart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain import codes
from giftwell.domain.errors import Conflict, NotFound, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.domain.ledger import AccountKind
from giftwell.domain.money import MAX_AMOUNT
from giftwell.keys import Keys
from giftwell.services import audit
from giftwell.services.cards import batch
from giftwell.services.currencies import currency as check_currency
from giftwell.services.ledger import accounts as ledger_accounts
from giftwell.store.models import BulkIssue
from giftwell.store.uow import UnitOfWork

MAX_COUNT = 10_000_000
BATCH = 5000


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    account_id: str
    currency: str
    amount: int
    count: int
    issued: int
    product_id: str | None
    expires_at: datetime | None
    finished: bool


def _run(r: Any) -> Run:
    return Run(
        r.id, r.account_id, r.currency, int(r.amount), int(r.count), int(r.issued), r.product_id, r.expires_at,
        r.finished_at is not None,
    )  # fmt: skip


async def start(
    uow: UnitOfWork,
    *,
    account_id: str,
    count: int,
    amount: int,
    currency: str,
    product_id: str | None = None,
    expires_at: datetime | None = None,
) -> Run:
    """A new run of `count` cards of `amount` minor units (nothing issued yet)."""
    cur = check_currency(currency)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ValidationFailed(f"count must be 1 to {MAX_COUNT}", param="count")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_AMOUNT:
        raise ValidationFailed(f"amount must be 1 to {MAX_AMOUNT} minor units", param="amount")
    run = Run(new_id("blk"), account_id, cur.code, amount, count, 0, product_id, expires_at, False)
    await uow.conn.execute(
        sa.insert(BulkIssue).values(
            id=run.id,
            account_id=account_id,
            currency=run.currency,
            amount=amount,
            count=count,
            issued=0,
            product_id=product_id,
            expires_at=expires_at,
            created_at=uow.now,
            updated_at=uow.now,
            finished_at=None,
        )
    )
    await audit.record(
        uow,
        "cards.bulk_issue_started",
        target=("bulk_issue", run.id),
        account_id=account_id,
        changes={"count": count, "amount": amount, "currency": run.currency, "product": product_id},
    )
    return run


async def get(uow: UnitOfWork, run_id: str) -> Run:
    row = (await uow.conn.execute(sa.select(BulkIssue).where(BulkIssue.id == run_id))).first()
    if row is None:
        raise NotFound("no such bulk issue", param="run")
    return _run(row)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A batch's rows and codes, built ahead of its transaction (`prepare`)."""

    issued: int  # the run's `issued` it follows
    rows: batch.CardBatch
    shown: list[tuple[str, str]]


async def issuance_account(uow: UnitOfWork, run: Run) -> str:
    """The issuer's issuance ledger account the run's cards are valued from."""
    return await ledger_accounts.system_account(
        uow, account_id=run.account_id, kind=AccountKind.ISSUANCE, currency=run.currency
    )


def prepare(
    keys: Keys,
    now: datetime,
    run: Run,
    issuance: str,
    *,
    size: int = BATCH,
    code_format: codes.CodeFormat = codes.DEFAULT_FORMAT,
) -> Prepared:
    """The rows of the batch after `run.issued` (at most `size` cards), in memory only: a caller
    may build the next batch in a thread while the last one is written. Nothing of it exists
    until `issue_batch` commits it; a batch never committed is simply built again on resume."""
    rows = batch.CardBatch(keys, now)
    metadata = {"bulk_issue": run.id, **({"product": run.product_id} if run.product_id else {})}
    shown = [
        rows.add(
            account_id=run.account_id,
            issuance_id=issuance,
            currency=run.currency,
            amount=run.amount,
            code_format=code_format,
            expires_at=run.expires_at,
            metadata=metadata,
        )
        for _ in range(max(0, min(size, run.count - run.issued)))
    ]
    return Prepared(run.issued, rows, shown)


async def issue_batch(
    uow: UnitOfWork,
    run: Run,
    *,
    size: int = BATCH,
    code_format: codes.CodeFormat = codes.DEFAULT_FORMAT,
    write: Callable[[list[tuple[str, str]]], Awaitable[None]] | None = None,
    prepared: Prepared | None = None,
) -> Run:
    """The next batch of `run` (at most `size` cards, or the `prepared` one), in the caller's
    transaction; the run after it. `write` gets the batch's (card id, code) pairs before anything
    is inserted: the caller stores them, then commits."""
    if prepared is None:
        issuance = await issuance_account(uow, run)
        prepared = prepare(uow.rt.keys, uow.now, run, issuance, size=size, code_format=code_format)
    if prepared.issued != run.issued:
        raise ValueError("the prepared batch is not the run's next one")
    n = len(prepared.shown)
    if n <= 0:
        return run
    done = run.issued + n
    moved = await uow.conn.execute(
        sa.update(BulkIssue)
        .where(BulkIssue.id == run.id, BulkIssue.issued == run.issued)
        .values(issued=done, updated_at=uow.now, finished_at=uow.now if done == run.count else None)
    )
    if moved.rowcount != 1:
        raise Conflict("the run moved on in another process: run the command again to resume", param="run")
    if write is not None:
        await write(prepared.shown)
    await prepared.rows.write(uow)
    if done == run.count:
        await audit.record(
            uow,
            "cards.bulk_issue_finished",
            target=("bulk_issue", run.id),
            account_id=run.account_id,
            changes={"count": done},
        )
    return replace(run, issued=done, finished=done == run.count)
