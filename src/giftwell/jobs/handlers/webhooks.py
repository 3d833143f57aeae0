"""Webhook delivery: one job per (event, endpoint) and generation, ten attempts on the Standard
Webhooks schedule (the delay after each failed attempt comes from `webhook_delivery.attempt`)."""

from __future__ import annotations

import random

from giftwell.domain.jobs import RetryLater
from giftwell.jobs.handlers import handler
from giftwell.services.events import DELIVER_JOB
from giftwell.services.queue.claims import ClaimedJob
from giftwell.services.runtime import Runtime
from giftwell.services.webhooks import sending as webhook_sending

_rng = random.SystemRandom()


@handler(DELIVER_JOB)
async def deliver(rt: Runtime, job: ClaimedJob) -> None:
    outcome = await webhook_sending.attempt(rt, job, rand=_rng.random())
    if outcome.retry_in is not None:
        raise RetryLater(outcome.retry_in, f"webhook attempt {job.attempt} failed: {outcome.reason}")
