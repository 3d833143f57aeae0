"""One delivery attempt: build the body, sign it, POST it, log the attempt, decide what next.

Called by the `webhook.deliver` job (`jobs/handlers/webhooks.py`) with the job's attempt number;
the job's retries follow the Standard Webhooks schedule (`domain.webhooks.SCHEDULE`) because this
function says how long to wait, and the handler raises `RetryLater` with it. Three short
transactions, none held across the HTTP call: read (and build the body), send, record.

- 2xx: succeeded; the endpoint's failure record is cleared.
- 410 Gone: the endpoint is disabled (and its account told); the delivery failed.
- 429 or 503 with Retry-After: the next attempt waits what it says (capped at a day).
- Anything else, a timeout, a refused destination: the next attempt on the schedule; after the
  tenth, failed. An endpoint failing for `webhook_disable_after_days` is disabled.

At least once: a worker killed after the POST and before the record sends it again, with the same
`webhook-id` (the event id), which is what receivers de-duplicate on.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from giftwell.domain import jsjson
from giftwell.domain.errors import NotFound
from giftwell.domain.ids import new_id
from giftwell.domain.jobs import describe_error
from giftwell.domain.webhooks import (
    RETRY_AFTER_STATUSES,
    DeliveryStatus,
    is_private,
    retry_after,
    retry_delay,
    signature_headers,
)
from giftwell.services.queue.claims import ClaimedJob
from giftwell.services.runtime import Runtime
from giftwell.services.webhooks import bodies
from giftwell.services.webhooks import endpoints as webhook_endpoints
from giftwell.store.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from giftwell.store.uow import UnitOfWork
from giftwell.telemetry import metrics

MAX_RESPONSE_BODY = 2048
USER_AGENT = "Giftwell-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the attempt concluded. `retry_in`: seconds until the next attempt, None for none."""

    status: str  # succeeded, failed, retry, skipped
    retry_in: float | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None
    body: str | None
    error: str | None
    retry_after: str | None
    duration_ms: int


class Refused(Exception):
    """The destination is not one we deliver to (a private address, a name that does not resolve)."""


async def attempt(rt: Runtime, job: ClaimedJob, *, rand: float) -> Outcome:
    delivery_id = str(job.payload["delivery"])
    generation = int(job.payload.get("generation", 0))
    async with rt.uow() as uow:
        d = (await uow.conn.execute(sa.select(WebhookDelivery).where(WebhookDelivery.id == delivery_id))).first()
        if d is None:
            raise NotFound(f"no webhook delivery {delivery_id}")
        if d.generation != generation or d.status != DeliveryStatus.PENDING.value:
            return Outcome("skipped", reason="superseded by a replay, or already settled")
        ep = (await uow.conn.execute(sa.select(WebhookEndpoint).where(WebhookEndpoint.id == d.endpoint_id))).one()
        if ep.deleted_at is not None or not ep.enabled:
            await _settle(
                uow, d, DeliveryStatus.FAILED, error="endpoint deleted" if ep.deleted_at else "endpoint disabled"
            )
            await uow.commit()
            return Outcome("skipped", reason="endpoint disabled")
        event = (await uow.conn.execute(sa.select(Event).where(Event.id == d.event_id))).one()
        secrets_ = webhook_endpoints.live_secrets(uow, ep)
        body = jsjson.dumps(await bodies.event_body(uow, event, ep.format))
        url = ep.url
        # Committed: a body that shows the order shows codes, and each showing is recorded.
        await uow.commit()

    started = rt.clock()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signature_headers(secrets_, event.id, int(started.timestamp()), body),
    }
    answer = await post(rt, url, headers, body)
    metrics.webhook_attempt(d.endpoint_id, ok=answer.status is not None and 200 <= answer.status < 300)
    return await _record(rt, job, d, answer, started=started, rand=rand)


async def _record(rt: Runtime, job: ClaimedJob, d: Any, answer: Answer, *, started: Any, rand: float) -> Outcome:
    ok = answer.status is not None and 200 <= answer.status < 300
    async with rt.uow() as uow:
        now = uow.now
        if ok:
            outcome = Outcome("succeeded")
        elif answer.status == 410:
            outcome = Outcome("failed", reason="410 Gone")
        else:
            wait = retry_after(answer.retry_after, now) if answer.status in RETRY_AFTER_STATUSES else None
            scheduled = retry_delay(job.attempt, rand)
            if scheduled is None:
                outcome = Outcome("failed", reason="no attempts left")
            else:
                outcome = Outcome(
                    "retry",
                    retry_in=wait if wait is not None else scheduled,
                    reason=answer.error or f"HTTP {answer.status}",
                )
        retry_at = now + timedelta(seconds=outcome.retry_in) if outcome.retry_in is not None else None
        insert = postgresql.insert(WebhookAttempt) if uow.dialect == "postgresql" else sqlite.insert(WebhookAttempt)
        await uow.conn.execute(
            insert.values(
                id=new_id("wha"),
                account_id=d.account_id,
                endpoint_id=d.endpoint_id,
                delivery_id=d.id,
                event_id=d.event_id,
                job_id=job.id,
                job_attempt=job.attempt,
                generation=d.generation,
                attempt=job.attempt,
                status="succeeded" if ok else "failed",
                response_status=answer.status,
                duration_ms=answer.duration_ms,
                error=answer.error or (None if ok else f"HTTP {answer.status}"),
                response_body=answer.body,
                started_at=started,
                retry_at=retry_at,
            ).on_conflict_do_nothing(index_elements=["job_id", "job_attempt"])
        )
        final = {
            "succeeded": DeliveryStatus.SUCCEEDED,
            "failed": DeliveryStatus.FAILED,
            "retry": DeliveryStatus.PENDING,
        }[outcome.status]
        await _settle(
            uow,
            d,
            final,
            error=None if ok else (answer.error or f"HTTP {answer.status}"),
            response_status=answer.status,
            attempted=True,
            next_attempt_at=retry_at,
        )
        if ok:
            await uow.conn.execute(
                sa.update(WebhookEndpoint)
                .where(WebhookEndpoint.id == d.endpoint_id, WebhookEndpoint.failing_since.is_not(None))
                .values(failing_since=None)
            )
        elif answer.status == 410:
            await webhook_endpoints.disable(uow, endpoint_id=d.endpoint_id, reason="the endpoint answered 410 Gone")
        else:
            await _note_failure(uow, d.endpoint_id)
        await uow.commit()
    return outcome


async def _note_failure(uow: UnitOfWork, endpoint_id: str) -> None:
    """Remember when the endpoint started failing; past the limit, disable it."""
    await uow.conn.execute(
        sa.update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_(None))
        .values(failing_since=uow.now)
    )
    since = await uow.conn.scalar(sa.select(WebhookEndpoint.failing_since).where(WebhookEndpoint.id == endpoint_id))
    limit = timedelta(days=uow.rt.settings.webhook_disable_after_days)
    if since is not None and uow.now - since >= limit:
        days = uow.rt.settings.webhook_disable_after_days
        await webhook_endpoints.disable(uow, endpoint_id=endpoint_id, reason=f"every attempt failed for {days:g} days")


async def _settle(
    uow: UnitOfWork,
    d: Any,
    status: DeliveryStatus,
    *,
    error: str | None,
    response_status: int | None = None,
    attempted: bool = False,
    next_attempt_at: Any = None,
) -> None:
    values: dict[str, Any] = {
        "status": status.value,
        "last_error": error,
        "next_attempt_at": next_attempt_at,
        "updated_at": uow.now,
    }
    if attempted:
        values.update(
            attempts=WebhookDelivery.attempts + 1, last_attempt_at=uow.now, last_response_status=response_status
        )
    # Guarded on the generation: a replay that started meanwhile owns the delivery now.
    await uow.conn.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id == d.id, WebhookDelivery.generation == d.generation)
        .values(**values)
    )


# -- HTTP ---------------------------------------------------------------------------------------


@cache
def _tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()


async def post(rt: Runtime, url: str, headers: dict[str, str], body: bytes) -> Answer:
    """POST the body: redirects not followed, no proxy from the environment, the whole attempt
    within `webhook_timeout_seconds`; at most MAX_RESPONSE_BODY bytes of the answer are kept."""
    timeout = rt.settings.webhook_timeout_seconds
    # Built (once, it loads the CA bundle: slow) before the clock of the attempt starts.
    tls = _tls()
    started = time.monotonic()

    def ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        async with asyncio.timeout(timeout):
            target, extra, extensions = await destination(url, allow_private=rt.settings.webhooks_private_allowed)
            async with (
                httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False, verify=tls) as client,
                client.stream("POST", target, content=body, headers={**headers, **extra}, extensions=extensions) as r,
            ):
                kept = bytearray()
                async for chunk in r.aiter_bytes():
                    kept += chunk
                    if len(kept) >= MAX_RESPONSE_BODY:
                        break
                text = bytes(kept[:MAX_RESPONSE_BODY]).decode("utf-8", "replace")
                return Answer(r.status_code, text, None, r.headers.get("retry-after"), ms())
    except TimeoutError:
        return Answer(None, None, f"timed out after {timeout:g}s", None, ms())
    except Refused as exc:
        return Answer(None, None, str(exc), None, ms())
    except (httpx.HTTPError, OSError) as exc:
        return Answer(None, None, describe_error(exc), None, ms())


async def destination(url: str, *, allow_private: bool) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Where to connect. Unless private destinations are allowed, the host is resolved here and
    every address it has must be public; the request then goes to the first of them (Host header
    and TLS server name kept), so a second lookup cannot swap in a private one (DNS rebinding)."""
    if allow_private:
        return url, {}, {}
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refused(f"{host} does not resolve: {exc}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise Refused(f"{host} does not resolve")
    private = [a for a in addresses if is_private(a)]
    if private:
        raise Refused(f"{host} resolves to a private, loopback or link-local address ({private[0]}); not delivered")
    first = addresses[0]
    netloc = f"[{first}]:{port}" if first.version == 6 else f"{first}:{port}"
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    extensions: dict[str, Any] = {"sni_hostname": host} if https else {}
    return target, {"Host": parts.netloc}, extensions
