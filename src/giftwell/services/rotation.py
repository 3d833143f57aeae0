"""Key rotation: re-encrypt every secret Giftwell keeps under the current key, in batches,
resumably, while it serves.

Before: set the new secret as current and keep the old one readable
(`GIFTWELL_SECRET_KEY=new`, `GIFTWELL_SECRET_KEY_PREVIOUS=old`, or a new highest version in the
key file) and restart the processes: from then on everything new is written under the new key,
and everything old is still read (`keys.Keys`). Then `giftwell keys rotate` walks each registered
table by primary key, batch by batch, each batch one transaction that also records how far it
got (`key_rotations`), and rewrites every ciphertext not under the current key, and the keyed
hashes that lookups use (a card's code hash, a reward link's token hash), computed from the value
read back. Lookups match a hash under any configured key, so they work during and after. Each
row is rewritten with a guard on its old value: a row changed meanwhile (a webhook secret rotated
by its owner) is left as it now is, which is already under the current key.

A feature that keeps its own encrypted column (supplier credentials) registers it with
`register(Target(...))` in its module; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from giftwell.domain import codes
from giftwell.domain.suppliers import code_aad, pin_aad
from giftwell.keys import CODES, SUPPLIERS, WEBHOOKS, Keys
from giftwell.services import audit
from giftwell.services.runtime import Runtime
from giftwell.store.models import (
    Card,
    IdempotencyKey,
    KeyRotation,
    RewardLink,
    SuppliedCard,
    Supplier,
    UserLink,
    WebhookEndpoint,
)
from giftwell.store.uow import UnitOfWork

Row = Any


@dataclass(frozen=True)
class Sealed:
    """One encrypted column: its attribute, the key purpose it was sealed for, and its associated
    data as a function of the row."""

    column: str
    purpose: str
    aad: Callable[[Row], str]


@dataclass(frozen=True)
class Rehash:
    """A keyed-hash column recomputed from a sealed column's plaintext."""

    column: str
    source: str  # the Sealed column whose plaintext is hashed
    compute: Callable[[Keys, Row, str], str]


@dataclass(frozen=True)
class Target:
    model: Any
    sealed: tuple[Sealed, ...]
    rehash: tuple[Rehash, ...] = ()
    extra: tuple[str, ...] = field(default=())  # other columns the aad or hashes read

    @property
    def name(self) -> str:
        return str(self.model.__tablename__)

    @property
    def pk(self) -> tuple[Any, ...]:
        return tuple(self.model.__table__.primary_key.columns)


def _supplier_aad(name: str) -> Callable[[Row], str]:
    return lambda r: f"supplier:{r.id}:{name}"


TARGETS: list[Target] = [
    Target(
        Card,
        (
            Sealed("code_encrypted", CODES, lambda r: f"code:{r.id}"),
            Sealed("pin_encrypted", CODES, lambda r: f"pin:{r.id}"),
        ),
        (Rehash("code_hash", "code_encrypted", lambda k, r, code: k.code_hash(r.account_id, codes.normalize(code))),),
        ("account_id",),
    ),
    Target(
        RewardLink,
        (Sealed("token_encrypted", CODES, lambda r: f"link:{r.card_id}"),),
        (Rehash("token_hash", "token_encrypted", lambda k, _r, token: k.link_hash(token)),),
    ),
    Target(
        WebhookEndpoint,
        (
            Sealed("secret_enc", WEBHOOKS, lambda r: f"webhook:{r.id}"),
            Sealed("previous_secret_enc", WEBHOOKS, lambda r: f"webhook:{r.id}"),
        ),
    ),
    Target(
        IdempotencyKey,
        (Sealed("response_body", CODES, lambda r: f"idem:{r.account_id}:{r.key}"),),
    ),
    Target(
        Supplier,
        tuple(
            Sealed(f"{name}_enc", SUPPLIERS, _supplier_aad(name))
            for name in ("client_secret", "refresh_token", "access_token", "webhook_secret")
        ),
    ),
    Target(
        SuppliedCard,
        (
            Sealed("code_enc", CODES, lambda r: code_aad(r.order_card_id)),
            Sealed("pin_enc", CODES, lambda r: pin_aad(r.order_card_id)),
        ),
    ),
    Target(UserLink, (Sealed("token_encrypted", CODES, lambda r: f"user-link:{r.id}"),)),
]


def register(target: Target) -> None:
    """Add a table with encrypted columns to what `keys rotate` rewrites."""
    if all(t.name != target.name for t in TARGETS):
        TARGETS.append(target)


@dataclass(frozen=True, slots=True)
class TableProgress:
    table: str
    rows_seen: int
    rows_changed: int
    done: bool


def _columns(t: Target) -> list[Any]:
    names = dict.fromkeys(
        [c.name for c in t.pk] + list(t.extra) + [s.column for s in t.sealed] + [r.column for r in t.rehash]
    )
    return [getattr(t.model, n) for n in names]


async def _progress(uow: UnitOfWork, kid: str, table: str) -> Row | None:
    return (
        await uow.conn.execute(sa.select(KeyRotation).where(KeyRotation.key_id == kid, KeyRotation.table_name == table))
    ).first()


def _rewrite(keys: Keys, t: Target, row: Row) -> dict[str, Any]:
    """The new values of a row (empty when it is already all under the current key)."""
    values: dict[str, Any] = {}
    plain: dict[str, str] = {}
    for s in t.sealed:
        blob = getattr(row, s.column)
        if blob is None:
            continue
        if not keys.is_current(blob) or any(r.source == s.column for r in t.rehash):
            text = keys.open(s.purpose, blob, aad=s.aad(row))
            plain[s.column] = text
            if not keys.is_current(blob):
                values[s.column] = keys.seal(s.purpose, text, aad=s.aad(row))
    for r in t.rehash:
        if r.source in plain:
            digest = r.compute(keys, row, plain[r.source])
            if digest != getattr(row, r.column):
                values[r.column] = digest
    return values


async def rotate_batch(rt: Runtime, t: Target, *, batch: int) -> TableProgress:
    """Rewrite the next batch of `t` (one transaction, with its progress). Returns the table's
    progress after it; `done` once the whole table is under the current key."""
    keys = rt.keys
    kid = keys.current_kid
    async with rt.uow() as uow:
        prog = await _progress(uow, kid, t.name)
        if prog is not None and prog.finished_at is not None:
            return TableProgress(t.name, prog.rows_seen, prog.rows_changed, True)
        if prog is None:
            insert = postgresql.insert(KeyRotation) if uow.dialect == "postgresql" else sqlite.insert(KeyRotation)
            await uow.conn.execute(
                insert.values(
                    key_id=kid, table_name=t.name, cursor=None, rows_seen=0, rows_changed=0, started_at=uow.now
                ).on_conflict_do_nothing()
            )
            prog = await _progress(uow, kid, t.name)
            assert prog is not None
        q = sa.select(*_columns(t)).order_by(*t.pk).limit(batch)
        if prog.cursor is not None:
            q = q.where(sa.tuple_(*t.pk) > sa.tuple_(*[sa.literal(v) for v in prog.cursor]))
        rows = (await uow.conn.execute(q)).all()
        changed = 0
        for row in rows:
            values = _rewrite(keys, t, row)
            if not values:
                continue
            # Guarded on the values read: a row rewritten meanwhile is already current.
            guard = [c == getattr(row, c.name) for c in t.pk]
            guard += [
                getattr(t.model, s.column).is_(None)
                if getattr(row, s.column) is None
                else getattr(t.model, s.column) == getattr(row, s.column)
                for s in t.sealed
            ]
            res = await uow.conn.execute(sa.update(t.model).where(*guard).values(**values))
            changed += res.rowcount or 0
        done = len(rows) < batch
        cursor = [getattr(rows[-1], c.name) for c in t.pk] if rows else prog.cursor
        await uow.conn.execute(
            sa.update(KeyRotation)
            .where(KeyRotation.key_id == kid, KeyRotation.table_name == t.name)
            .values(
                cursor=cursor,
                rows_seen=KeyRotation.rows_seen + len(rows),
                rows_changed=KeyRotation.rows_changed + changed,
                finished_at=uow.now if done else None,
            )
        )
        await uow.commit()
    return TableProgress(t.name, prog.rows_seen + len(rows), prog.rows_changed + changed, done)


async def record_finished(rt: Runtime, progress: Sequence[TableProgress]) -> None:
    """The audit record of a finished rotation (once per key)."""
    async with rt.uow() as uow:
        await audit.record(
            uow,
            "keys.rotated",
            target=("key", rt.keys.current_kid),
            account_id=None,
            changes={
                "key_id": rt.keys.current_kid,
                "still_read": list(rt.keys.kids[1:]),
                "tables": {p.table: {"rows": p.rows_seen, "rewritten": p.rows_changed} for p in progress},
            },
        )
        await uow.commit()


async def table_sizes(rt: Runtime) -> dict[str, int]:
    async with rt.reader() as uow:
        return {
            t.name: int(await uow.conn.scalar(sa.select(sa.func.count()).select_from(t.model)) or 0) for t in TARGETS
        }


async def key_usage(rt: Runtime, *, batch: int = 2000) -> dict[str, dict[str, int]]:
    """For each table, how many ciphertexts are under each key id (`legacy`: written before key
    ids existed). Reads every row: for checking, not for a hot path."""
    out: dict[str, dict[str, int]] = {}
    keys = rt.keys
    async with rt.reader() as uow:
        for t in TARGETS:
            counts: dict[str, int] = {}
            after: list[Any] | None = None
            while True:
                cols = [*t.pk, *(getattr(t.model, s.column) for s in t.sealed)]
                q = sa.select(*cols).order_by(*t.pk).limit(batch)
                if after is not None:
                    q = q.where(sa.tuple_(*t.pk) > sa.tuple_(*[sa.literal(v) for v in after]))
                rows = (await uow.conn.execute(q)).all()
                for row in rows:
                    for s in t.sealed:
                        blob = getattr(row, s.column)
                        if blob is not None:
                            kid = keys.key_id_of(bytes(blob)) or "legacy"
                            counts[kid] = counts.get(kid, 0) + 1
                if len(rows) < batch:
                    break
                after = [getattr(rows[-1], c.name) for c in t.pk]
            out[t.name] = counts
    return out
