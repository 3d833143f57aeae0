"""Sending deliveries (email and SMS) in the background; see services/delivery_send.py."""

from __future__ import annotations

from giftwell.jobs.handlers import handler
from giftwell.services.delivery import sending as delivery_sending
from giftwell.services.delivery.deliveries import SEND_JOB
from giftwell.services.queue.claims import ClaimedJob
from giftwell.services.runtime import Runtime


@handler(SEND_JOB)
async def send_delivery(rt: Runtime, job: ClaimedJob) -> None:
    # Idempotent: a delivery already sent or failed is left alone, and the outcome is written by
    # a guarded update. A transient failure raises SendFailed: retried with backoff.
    await delivery_sending.attempt(rt, str(job.payload["delivery_id"]), final=job.attempt >= job.max_attempts)
