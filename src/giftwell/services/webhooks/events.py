"""Events as the webhooks API shows them, replays, and the attempt log.

Only the event types an endpoint may subscribe to (`domain.webhooks.EVENT_TYPES`) are listed; the
rest of the `events` table is an internal audit trail. A replay sends an event again with the
same `webhook-id` (the event id), so a receiver that de-duplicates on it stays correct.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain.errors import NotFound, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.domain.webhooks import EVENT_TYPES
from giftwell.services.pagination import Page, check_limit, cursor_time, decode_cursor, encode_cursor
from giftwell.services.webhooks import fanout
from giftwell.store.models import Event
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class EventView:
    id: str
    type: str
    created_at: datetime
    data: dict[str, Any]


def _event(r: Any) -> EventView:
    return EventView(r.id, r.type, r.created_at, r.data)


async def list_events(
    uow: UnitOfWork,
    *,
    account_id: str,
    type: str | None = None,
    created_gte: datetime | None = None,
    created_lte: datetime | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[EventView]:
    """The account's events, newest first."""
    check_limit(limit)
    q = sa.select(Event).where(Event.account_id == account_id)
    if type is not None:
        if type not in EVENT_TYPES:
            raise ValidationFailed(f"unknown event type {type!r}", param="type")
        q = q.where(Event.type == type)
    else:
        q = q.where(Event.type.in_(list(EVENT_TYPES)))
    if created_gte is not None:
        q = q.where(Event.created_at >= created_gte)
    if created_lte is not None:
        q = q.where(Event.created_at <= created_lte)
    if cursor:
        value, last_id = decode_cursor(cursor, "-created_at")
        at = cursor_time(value)
        q = q.where(sa.or_(Event.created_at < at, sa.and_(Event.created_at == at, Event.id < last_id)))
    rows = (await uow.conn.execute(q.order_by(Event.created_at.desc(), Event.id.desc()).limit(limit + 1))).all()
    data = [_event(r) for r in rows[:limit]]
    more = len(rows) > limit
    nxt = encode_cursor("-created_at", data[-1].created_at.isoformat(), data[-1].id) if more and data else None
    return Page(data, more, nxt)


async def access_event(uow: UnitOfWork, *, account_id: str, event_id: str) -> EventView:
    row = (
        await uow.conn.execute(
            sa.select(Event).where(
                Event.id == event_id, Event.account_id == account_id, Event.type.in_(list(EVENT_TYPES))
            )
        )
    ).first()
    if row is None:
        raise NotFound("no such event", param="event")
    return _event(row)


_INSERT_EVENT = sa.insert(Event)


async def record(uow: UnitOfWork, *, account_id: str, type: str, subject_id: str | None, data: dict[str, Any]) -> str:
    event_id = new_id("evt")
    await uow.conn.execute(
        _INSERT_EVENT,
        {
            "id": event_id,
            "account_id": account_id,
            "type": type,
            "subject_id": subject_id,
            "data": data,
            "created_at": uow.now,
        },
    )
    await fanout.fan_out(uow, event_id=event_id, account_id=account_id, event_type=type, created_at=uow.now)
    return event_id
