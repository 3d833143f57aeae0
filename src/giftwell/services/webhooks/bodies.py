"""What a webhook body is made from, and the builders by endpoint format.

An endpoint's `format` names how its bodies look: `native` (`{id, type, created_at, data}`) is
built here; a dialect's format (`wizzgift`) is built by that dialect's pure builder, which the
composition root registers with `register`. A builder is a pure function of an `EventBody`: the
event, and, for formats that show the order (`shows_order`), the order with its codes and each
product's redemption instructions, read here (every showing of a code is recorded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from giftwell.domain.webhooks import Format
from giftwell.services.orders import by_reference
from giftwell.services.orders import views as order_views
from giftwell.services.orders.views import OrderView
from giftwell.store.uow import UnitOfWork

# The order result events: the ones whose bodies may show the order.
ORDER_RESULTS = frozenset({"order.completed", "order.failed", "order.partial"})


@dataclass(frozen=True, slots=True)
class EventBody:
    """An event as a builder sees it. `order` and `instructions` (product id -> redemption
    instructions) are set for an order result event sent to a format that shows the order."""

    id: str
    type: str
    account_id: str
    subject_id: str | None
    created_at: datetime
    data: dict[str, Any]
    order: OrderView | None = None
    instructions: dict[str, str] = field(default_factory=dict)


Builder = Callable[[EventBody], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class BodyFormat:
    build: Builder
    shows_order: bool = False


def native_body(event: EventBody) -> dict[str, Any]:
    """`{id, type, created_at, data}`: the event as `GET /v1/events` shows it."""
    return {
        "id": event.id,
        "type": event.type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }


FORMATS: dict[str, BodyFormat] = {Format.NATIVE.value: BodyFormat(native_body)}


def register(name: str, build: Builder, *, shows_order: bool = False) -> None:
    """Register the builder of a dialect's format (by the composition root, at start)."""
    FORMATS[name] = BodyFormat(build, shows_order)


async def event_body(uow: UnitOfWork, event: Any, fmt: str) -> dict[str, Any]:
    """The body of `event` (an `events` row) for an endpoint of format `fmt`. Reading the order
    of a format that shows it records the showing: the caller commits."""
    body_format = FORMATS.get(fmt)
    if body_format is None:
        raise LookupError(f"no body builder for webhook format {fmt!r}")
    view = EventBody(event.id, event.type, event.account_id, event.subject_id, event.created_at, event.data)
    if body_format.shows_order and event.type in ORDER_RESULTS and event.subject_id is not None:
        order = await order_views.reveal_order(uow, account_id=event.account_id, order_id=event.subject_id)
        instructions = await by_reference.instructions_of(uow, order)
        view = EventBody(
            view.id, view.type, view.account_id, view.subject_id, view.created_at, view.data, order, instructions
        )
    return body_format.build(view)
