"""Order fulfilment in the background (orders placed in `async` mode, or `auto` with more than
ten cards)."""

from __future__ import annotations

from giftwell.domain.jobs import RetryLater
from giftwell.jobs.handlers import handler
from giftwell.services.orders import fulfilment
from giftwell.services.orders.placing import FULFIL_JOB
from giftwell.services.queue.claims import ClaimedJob
from giftwell.services.runtime import Runtime

# While another worker holds the order's remaining units, look again after this long.
RECHECK_SECONDS = 5.0


@handler(FULFIL_JOB)
async def fulfil_order(rt: Runtime, job: ClaimedJob) -> None:
    # `fulfil` commits batch by batch and never issues a card twice, so running this job again
    # after a crash resumes where the last committed batch ended.
    order_id = str(job.payload["order_id"])
    status = await fulfilment.fulfil(rt, order_id, max_batch=fulfilment.MAX_BATCH)
    # Still open with units pending: another worker's batch holds them. Open with none pending:
    # its other units wait on an upstream supplier, whose purchase job ends the order.
    if status.open and await fulfilment.units_pending(rt, order_id):
        raise RetryLater(RECHECK_SECONDS, "order still being fulfilled by another worker")
