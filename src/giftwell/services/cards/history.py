"""A card's transfers, newest first."""

from __future__ import annotations

import sqlalchemy as sa

from giftwell.domain.ledger import (
    Transfer,
)
from giftwell.services.cards import reads as cards
from giftwell.services.ledger import transfers
from giftwell.services.pagination import Page, check_limit, newest_first, paginate
from giftwell.store.models import Transfer as TransferRow
from giftwell.store.uow import UnitOfWork


async def list_transfers(
    uow: UnitOfWork, *, account_id: str, card_id: str, limit: int = 20, cursor: str | None = None
) -> Page[Transfer]:
    """A card's transfers, newest first."""
    check_limit(limit)  # before the card is read: a bad limit is the caller's first error
    card = await cards.get(uow, account_id=account_id, card_id=card_id)
    la = card.ledger_account_id
    q = sa.select(TransferRow).where(
        TransferRow.account_id == account_id,
        sa.or_(TransferRow.debit_account_id == la, TransferRow.credit_account_id == la),
    )
    sort = newest_first(TransferRow.created_at, TransferRow.id)
    return await paginate(uow, q, sort=sort, limit=limit, cursor=cursor, convert=transfers.transfer_from_row)
