"""A card's transfers, newest first."""

from __future__ import annotations

import sqlalchemy as sa

from giftwell.domain.ledger import (
    Transfer,
)
from giftwell.services.cards import reads as cards
from giftwell.services.ledger import transfers
from giftwell.services.pagination import Page, check_limit, cursor_time, decode_cursor, encode_cursor
from giftwell.store.models import Transfer as TransferRow
from giftwell.store.uow import UnitOfWork


async def list_transfers(
    uow: UnitOfWork, *, account_id: str, card_id: str, limit: int = 20, cursor: str | None = None
) -> Page[Transfer]:
    """A card's transfers, newest first."""
    check_limit(limit)
    card = await cards.get(uow, account_id=account_id, card_id=card_id)
    la = card.ledger_account_id
    q = sa.select(TransferRow).where(
        TransferRow.account_id == account_id,
        sa.or_(TransferRow.debit_account_id == la, TransferRow.credit_account_id == la),
    )
    if cursor:
        value, last_id = decode_cursor(cursor, "-created_at")
        at = cursor_time(value)
        q = q.where(
            sa.or_(TransferRow.created_at < at, sa.and_(TransferRow.created_at == at, TransferRow.id < last_id))
        )
    rows = (
        await uow.conn.execute(q.order_by(TransferRow.created_at.desc(), TransferRow.id.desc()).limit(limit + 1))
    ).all()
    items = [transfers.transfer_from_row(r) for r in rows[:limit]]
    more = len(rows) > limit
    nxt = encode_cursor("-created_at", items[-1].created_at.isoformat(), items[-1].id) if more and items else None
    return Page(items, more, nxt)
