"""Emailing a team's one-time links (invitations, password resets); see services/access/team.py."""

from __future__ import annotations

from giftwell.jobs.handlers import handler
from giftwell.services.access import team
from giftwell.services.queue.claims import ClaimedJob
from giftwell.services.runtime import Runtime


@handler(team.SEND_JOB)
async def send_link(rt: Runtime, job: ClaimedJob) -> None:
    # A link used or revoked before the job ran is not sent. SendFailed retries with backoff.
    await team.send_link(rt, str(job.payload["link_id"]))
