"""The dashboard home's figures: liability now, this month's card flows, and what needs
attention (orders in flight, failed deliveries, failing webhook endpoints), with the funding
sources (prepaid balances and credit lines). Counts only: each links to its own page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from giftwell.domain.delivery import DeliveryStatus
from giftwell.domain.ledger import TransferKind
from giftwell.domain.orders import OrderStatus
from giftwell.domain.reports import month_start
from giftwell.services.funding import sources
from giftwell.services.reports.ledger_views import card_accounts, movements
from giftwell.services.reports.liability import Owed, liability
from giftwell.store.models import Delivery, Order, Transfer, WebhookEndpoint
from giftwell.store.uow import UnitOfWork

ATTENTION_DAYS = 7  # failed deliveries of the last week need a look


@dataclass(frozen=True, slots=True)
class Flows:
    currency: str
    issued: int
    redeemed: int
    expired: int


@dataclass(frozen=True, slots=True)
class Overview:
    liability: list[Owed]
    month: list[Flows]
    orders_in_flight: int
    failed_deliveries: int
    failing_endpoints: int
    funding: list[sources.Source]


async def overview(uow: UnitOfWork, *, account_id: str) -> Overview:
    owed = await liability(uow, account_id=account_id)
    moves = movements(card_accounts(account_id), Transfer.posted_at >= month_start(uow.now))
    kinds = sa.select(moves.c.currency, moves.c.kind, sa.func.sum(moves.c.delta).label("delta")).group_by(
        moves.c.currency, moves.c.kind
    )
    per: dict[str, list[int]] = {}
    for r in await uow.conn.execute(kinds):
        cell = per.setdefault(r.currency, [0, 0, 0])
        if r.kind in (TransferKind.ACTIVATE, TransferKind.RELOAD):
            cell[0] += int(r.delta)
        elif r.kind in (TransferKind.REDEEM, TransferKind.REFUND):
            cell[1] -= int(r.delta)
        elif r.kind == TransferKind.EXPIRE:
            cell[2] -= int(r.delta)
    in_flight = sa.select(sa.func.count()).where(
        Order.account_id == account_id, Order.status.in_([s.value for s in OrderStatus if s.open])
    )
    failed = sa.select(sa.func.count()).where(
        Delivery.account_id == account_id,
        Delivery.status == DeliveryStatus.FAILED.value,
        Delivery.updated_at >= uow.now - timedelta(days=ATTENTION_DAYS),
    )
    failing = sa.select(sa.func.count()).where(
        WebhookEndpoint.account_id == account_id,
        WebhookEndpoint.deleted_at.is_(None),
        sa.or_(WebhookEndpoint.failing_since.is_not(None), WebhookEndpoint.enabled.is_(False)),
    )
    return Overview(
        owed.data,
        [Flows(c, *v) for c, v in sorted(per.items())],
        int((await uow.conn.execute(in_flight)).scalar_one()),
        int((await uow.conn.execute(failed)).scalar_one()),
        int((await uow.conn.execute(failing)).scalar_one()),
        await sources.list_sources(uow, account_id=account_id),
    )
