"""Recording and reading the audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain.errors import ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.services.audit import actor
from giftwell.services.pagination import Page, newest_first, paginate
from giftwell.services.runtime import Runtime
from giftwell.store.models import AuditEvent
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class AuditView:
    id: str
    occurred_at: datetime
    account_id: str | None
    action: str
    target_type: str
    target_id: str | None
    actor_type: str
    actor_id: str | None
    actor_account_id: str | None
    ip: str | None
    request_id: str | None
    changes: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "occurred_at": self.occurred_at.isoformat(),
            "account_id": self.account_id,
            "action": self.action,
            "target": {"type": self.target_type, "id": self.target_id},
            "actor": {
                "type": self.actor_type,
                "id": self.actor_id,
                "account_id": self.actor_account_id,
                "ip": self.ip,
                "request_id": self.request_id,
            },
            "changes": self.changes,
        }


def _view(r: Any) -> AuditView:
    return AuditView(
        r.id,
        r.occurred_at,
        r.account_id,
        r.action,
        r.target_type,
        r.target_id,
        r.actor_type,
        r.actor_id,
        r.actor_account_id,
        r.ip,
        r.request_id,
        r.changes,
    )


async def record(
    uow: UnitOfWork,
    action: str,
    *,
    target: tuple[str, str | None],
    account_id: str | None,
    changes: dict[str, Any] | None = None,
) -> str:
    """Record an administrative action in the caller's transaction (it commits with the change,
    or not at all). `action` is `<object>.<verb>` (`card.blocked`); `target` the object's type and
    id; `account_id` the account whose data changed; `changes` the new values, or
    `{field: [before, after]}`: ids, names, amounts, states, never a secret, code or token."""
    who = actor.current()
    event_id = new_id("aud")
    await uow.conn.execute(
        sa.insert(AuditEvent).values(
            id=event_id,
            occurred_at=uow.now,
            account_id=account_id,
            action=action,
            target_type=target[0],
            target_id=target[1],
            actor_type=who.type,
            actor_id=who.id,
            actor_account_id=who.account_id,
            ip=who.ip,
            request_id=who.request_id,
            changes=changes or {},
        )
    )
    return event_id


def _filtered(
    q: sa.Select[Any],
    *,
    account_id: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
) -> sa.Select[Any]:
    if account_id is not None:
        q = q.where(AuditEvent.account_id == account_id)
    if action is not None:
        if len(action) > 60:
            raise ValidationFailed("action is at most 60 characters", param="action")
        # `card.*` matches every action on cards.
        q = (
            q.where(AuditEvent.action.startswith(action[:-1], autoescape=True))
            if action.endswith(".*")
            else q.where(AuditEvent.action == action)
        )
    if since is not None:
        q = q.where(AuditEvent.occurred_at >= since)
    if until is not None:
        q = q.where(AuditEvent.occurred_at <= until)
    return q


async def list_events(
    uow: UnitOfWork,
    *,
    account_id: str | None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[AuditView]:
    """Audit events, newest first; `account_id=None` lists every account's (the operator's CLI)."""
    q = _filtered(sa.select(AuditEvent), account_id=account_id, action=action, since=since, until=until)
    return await paginate(
        uow, q, sort=newest_first(AuditEvent.occurred_at, AuditEvent.id), limit=limit, cursor=cursor, convert=_view
    )


async def _batch(
    uow: UnitOfWork,
    after: tuple[datetime, str] | None,
    *,
    account_id: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    batch: int,
) -> list[AuditView]:
    q = _filtered(sa.select(AuditEvent), account_id=account_id, action=action, since=since, until=until)
    if after is not None:
        q = q.where(sa.tuple_(AuditEvent.occurred_at, AuditEvent.id) > sa.tuple_(*after))
    rows = (await uow.conn.execute(q.order_by(AuditEvent.occurred_at, AuditEvent.id).limit(batch))).all()
    return [_view(r) for r in rows]


async def export(
    uow: UnitOfWork,
    *,
    account_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = 1000,
) -> AsyncIterator[AuditView]:
    """Every matching event, oldest first, read in batches (for `giftwell audit export`)."""
    after: tuple[datetime, str] | None = None
    while True:
        found = await _batch(uow, after, account_id=account_id, action=action, since=since, until=until, batch=batch)
        for e in found:
            yield e
        if len(found) < batch:
            return
        after = (found[-1].occurred_at, found[-1].id)


def export_in_reads(
    rt: Runtime,
    *,
    account_id: str | None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = 1000,
) -> AsyncIterator[AuditView]:
    """The same events as `export`, each batch in a short read of its own: a download (the
    dashboard's CSV) never holds a connection while the client reads it (SQLite has one). The
    filters are checked here, before the first byte of a download is sent."""
    _filtered(sa.select(AuditEvent), account_id=account_id, action=action, since=since, until=until)

    async def reads() -> AsyncIterator[AuditView]:
        after: tuple[datetime, str] | None = None
        while True:
            async with rt.reader() as uow:
                found = await _batch(
                    uow, after, account_id=account_id, action=action, since=since, until=until, batch=batch
                )
            for e in found:
                yield e
            if len(found) < batch:
                return
            after = (found[-1].occurred_at, found[-1].id)

    return reads()
