"""Record domain events in the transaction of the change they describe, and fan each one out to
the account's webhook endpoints in that same transaction (`webhook_fanout`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from giftwell.domain.ids import new_id
from giftwell.services import webhook_fanout
from giftwell.store.models import Event
from giftwell.store.uow import UnitOfWork

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
    await webhook_fanout.fan_out(uow, event_id=event_id, account_id=account_id, event_type=type, created_at=uow.now)
    return event_id
