"""Buying an order item from an upstream supplier: one job per purchase, run until the upstream
has made the cards (placing the order, then polling it; `orders.upstream.advance`). Upstream
5xx, 429 and timeouts raise, and the job is retried with its backoff."""

from __future__ import annotations

from giftwell.domain.jobs import RetryLater
from giftwell.jobs.handlers import handler
from giftwell.services.catalog.suppliers import SUPPLIER_ORDER_JOB
from giftwell.services.orders import upstream
from giftwell.services.queue.claims import ClaimedJob
from giftwell.services.runtime import Runtime


@handler(SUPPLIER_ORDER_JOB)
async def advance(rt: Runtime, job: ClaimedJob) -> None:
    step = await upstream.advance(rt, str(job.payload["purchase"]), attempt=job.attempt)
    if step.retry_in is not None:
        raise RetryLater(step.retry_in, step.reason)
