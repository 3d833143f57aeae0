"""Webhook endpoints: register, change, rotate the secret, delete; disable one that is gone or
has failed for days. Events, replays and the attempt log are in `webhook_events`.

A secret is shown once, in the create and rotate answers, and stored only encrypted
(`Keys.seal_webhook_secret`). Every query is scoped to the caller's account: another account's
endpoint is `not_found`, like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from giftwell.domain.errors import Conflict, NotFound, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.domain.webhooks import Format, check_events, check_url, new_secret
from giftwell.services import audit, events
from giftwell.store.models import WebhookEndpoint
from giftwell.store.uow import UnitOfWork

MAX_ENDPOINTS = 20
MAX_DESCRIPTION = 500
DISABLED_EVENT = "webhook_endpoint.disabled"


@dataclass(frozen=True, slots=True)
class EndpointView:
    id: str
    url: str
    description: str
    events: tuple[str, ...]
    format: str
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    secret_rotated_at: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted: bool


@dataclass(frozen=True, slots=True)
class WithSecret:
    """An endpoint and its new secret: the only answers that carry one."""

    endpoint: EndpointView
    secret: str


def _view(r: Any, now: datetime | None = None) -> EndpointView:
    expires = r.previous_secret_expires_at
    if now is not None and expires is not None and expires <= now:
        expires = None  # the overlap is over: only the current secret signs
    return EndpointView(
        id=r.id,
        url=r.url,
        description=r.description,
        events=tuple(r.events),
        format=r.format,
        enabled=bool(r.enabled),
        disabled_reason=r.disabled_reason,
        disabled_at=r.disabled_at,
        secret_rotated_at=r.secret_rotated_at,
        previous_secret_expires_at=expires,
        created_at=r.created_at,
        updated_at=r.updated_at,
        deleted=r.deleted_at is not None,
    )


def _format(value: str) -> Format:
    try:
        return Format(value)
    except ValueError:
        raise ValidationFailed(f"format must be one of {', '.join(f.value for f in Format)}", param="format") from None


def _description(value: str | None) -> str:
    value = value or ""
    if len(value) > MAX_DESCRIPTION:
        raise ValidationFailed(f"description is longer than {MAX_DESCRIPTION} characters", param="description")
    return value


async def create_endpoint(
    uow: UnitOfWork,
    *,
    account_id: str,
    url: str,
    events: list[str],
    format: str = Format.NATIVE.value,
    enabled: bool = True,
    description: str | None = None,
) -> WithSecret:
    """Register an endpoint with a new secret (`whsec_` + base64 of 32 random bytes)."""
    fmt = _format(format)
    checked_url = check_url(url, allow_private=uow.rt.settings.webhooks_private_allowed)
    subscription = check_events(events, fmt)
    count = await uow.conn.scalar(
        sa.select(sa.func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.account_id == account_id, WebhookEndpoint.deleted_at.is_(None))
    )
    if int(count or 0) >= MAX_ENDPOINTS:
        raise Conflict(f"an account may have at most {MAX_ENDPOINTS} webhook endpoints", param="url")
    endpoint_id = new_id("we")
    secret = new_secret()
    await uow.conn.execute(
        sa.insert(WebhookEndpoint).values(
            id=endpoint_id,
            account_id=account_id,
            url=checked_url,
            description=_description(description),
            events=list(subscription),
            format=fmt.value,
            enabled=enabled,
            disabled_reason=None if enabled else "disabled by the account",
            disabled_at=None if enabled else uow.now,
            secret_enc=uow.rt.keys.seal_webhook_secret(secret, endpoint_id=endpoint_id),
            previous_secret_enc=None,
            previous_secret_expires_at=None,
            secret_rotated_at=None,
            failing_since=None,
            created_at=uow.now,
            updated_at=uow.now,
            deleted_at=None,
        )
    )
    await audit.record(
        uow,
        "webhook_endpoint.created",
        target=("webhook_endpoint", endpoint_id),
        account_id=account_id,
        changes={"url": _shown(checked_url), "events": list(subscription), "format": fmt.value, "enabled": enabled},
    )
    return WithSecret(await access_endpoint(uow, account_id=account_id, endpoint_id=endpoint_id), secret)


def _shown(url: str) -> str:
    """A URL as the audit log keeps it: scheme, host, port and path (no credentials, no query)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


async def _row(uow: UnitOfWork, *, account_id: str, endpoint_id: str, lock: bool = False) -> Any:
    q = sa.select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id,
        WebhookEndpoint.account_id == account_id,
        WebhookEndpoint.deleted_at.is_(None),
    )
    if lock and uow.dialect == "postgresql":
        q = q.with_for_update()
    row = (await uow.conn.execute(q)).first()
    if row is None:
        raise NotFound("no such webhook endpoint", param="endpoint")
    return row


async def access_endpoint(uow: UnitOfWork, *, account_id: str, endpoint_id: str) -> EndpointView:
    """The caller's endpoint (not deleted); NotFound otherwise."""
    return _view(await _row(uow, account_id=account_id, endpoint_id=endpoint_id), uow.now)


async def list_endpoints(uow: UnitOfWork, *, account_id: str) -> list[EndpointView]:
    rows = await uow.conn.execute(
        sa.select(WebhookEndpoint)
        .where(WebhookEndpoint.account_id == account_id, WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return [_view(r, uow.now) for r in rows.all()]


_AUDITED = ("url", "events", "format", "description", "enabled")


async def update_endpoint(uow: UnitOfWork, *, account_id: str, endpoint_id: str, patch: dict[str, Any]) -> EndpointView:
    """Change `url`, `events`, `format`, `enabled` or `description`. Enabling an endpoint clears
    its failure record, so the five days start again."""
    row = await _row(uow, account_id=account_id, endpoint_id=endpoint_id, lock=True)
    values: dict[str, Any] = {}
    fmt = _format(patch["format"]) if patch.get("format") is not None else Format(row.format)
    if "url" in patch and patch["url"] is not None:
        values["url"] = check_url(patch["url"], allow_private=uow.rt.settings.webhooks_private_allowed)
    if patch.get("events") is not None or fmt.value != row.format:
        values["events"] = list(check_events(patch.get("events") or list(row.events), fmt))
        values["format"] = fmt.value
    if "description" in patch:
        values["description"] = _description(patch["description"])
    if patch.get("enabled") is not None and bool(patch["enabled"]) != bool(row.enabled):
        if patch["enabled"]:
            values.update(enabled=True, disabled_reason=None, disabled_at=None, failing_since=None)
        else:
            values.update(enabled=False, disabled_reason="disabled by the account", disabled_at=uow.now)
    if values:
        values["updated_at"] = uow.now
        await uow.conn.execute(sa.update(WebhookEndpoint).where(WebhookEndpoint.id == row.id).values(**values))
        changes = {k: [getattr(row, k), v] for k, v in values.items() if k in _AUDITED and getattr(row, k) != v}
        if "url" in changes:
            changes["url"] = [_shown(u) for u in changes["url"]]
        await audit.record(
            uow, "webhook_endpoint.updated", target=("webhook_endpoint", row.id), account_id=account_id, changes=changes
        )
    return await access_endpoint(uow, account_id=account_id, endpoint_id=endpoint_id)


async def delete_endpoint(uow: UnitOfWork, *, account_id: str, endpoint_id: str) -> EndpointView:
    """Delete an endpoint: nothing more is sent to it (attempts in flight stop at their next
    step). Its row stays, marked deleted, so its deliveries and attempts keep their endpoint."""
    row = await _row(uow, account_id=account_id, endpoint_id=endpoint_id, lock=True)
    await uow.conn.execute(
        sa.update(WebhookEndpoint)
        .where(WebhookEndpoint.id == row.id, WebhookEndpoint.deleted_at.is_(None))
        .values(deleted_at=uow.now, enabled=False, disabled_reason="deleted", disabled_at=uow.now, updated_at=uow.now)
    )
    gone = (await uow.conn.execute(sa.select(WebhookEndpoint).where(WebhookEndpoint.id == row.id))).one()
    await audit.record(uow, "webhook_endpoint.deleted", target=("webhook_endpoint", row.id), account_id=account_id)
    return _view(gone, uow.now)


async def rotate_secret(
    uow: UnitOfWork, *, account_id: str, endpoint_id: str, overlap_seconds: int | None = None
) -> WithSecret:
    """A new secret, shown once. For `overlap_seconds` (default
    `settings.webhook_rotation_overlap_seconds`; 0 ends the old secret at once) deliveries are
    signed with both, so receivers can switch without refusing a delivery."""
    settings = uow.rt.settings
    overlap = settings.webhook_rotation_overlap_seconds if overlap_seconds is None else overlap_seconds
    if not 0 <= overlap <= 7 * 24 * 3600:
        raise ValidationFailed("overlap_seconds must be between 0 and 604800 (7 days)", param="overlap_seconds")
    row = await _row(uow, account_id=account_id, endpoint_id=endpoint_id, lock=True)
    keys = uow.rt.keys
    current = keys.open_webhook_secret(row.secret_enc, endpoint_id=row.id)
    secret = new_secret()
    await uow.conn.execute(
        sa.update(WebhookEndpoint)
        .where(WebhookEndpoint.id == row.id)
        .values(
            secret_enc=keys.seal_webhook_secret(secret, endpoint_id=row.id),
            previous_secret_enc=keys.seal_webhook_secret(current, endpoint_id=row.id) if overlap else None,
            previous_secret_expires_at=uow.now + timedelta(seconds=overlap) if overlap else None,
            secret_rotated_at=uow.now,
            updated_at=uow.now,
        )
    )
    await audit.record(
        uow,
        "webhook_endpoint.secret_rotated",
        target=("webhook_endpoint", row.id),
        account_id=account_id,
        changes={"overlap_seconds": overlap},
    )
    return WithSecret(await access_endpoint(uow, account_id=account_id, endpoint_id=endpoint_id), secret)


def live_secrets(uow: UnitOfWork, row: Any) -> list[str]:
    """The secrets a delivery is signed with now: the current one, then the previous one while
    its overlap lasts."""
    keys = uow.rt.keys
    out = [keys.open_webhook_secret(row.secret_enc, endpoint_id=row.id)]
    if (
        row.previous_secret_enc is not None
        and row.previous_secret_expires_at is not None
        and row.previous_secret_expires_at > uow.now
    ):
        out.append(keys.open_webhook_secret(row.previous_secret_enc, endpoint_id=row.id))
    return out


async def disable(uow: UnitOfWork, *, endpoint_id: str, reason: str) -> bool:
    """Disable an endpoint that is gone (410) or has failed for too long, and tell its account
    with a `webhook_endpoint.disabled` event (sent to its other endpoints that subscribe).
    Guarded: of two workers concluding it at once, one disables it and records the event."""
    res = await uow.conn.execute(
        sa.update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True), WebhookEndpoint.deleted_at.is_(None)
        )
        .values(enabled=False, disabled_reason=reason, disabled_at=uow.now, updated_at=uow.now)
        .returning(WebhookEndpoint.account_id, WebhookEndpoint.url, WebhookEndpoint.failing_since)
    )
    row = res.first()
    if row is None:
        return False
    await events.record(
        uow,
        account_id=row.account_id,
        type=DISABLED_EVENT,
        subject_id=endpoint_id,
        data={
            "endpoint": endpoint_id,
            "url": row.url,
            "reason": reason,
            "failing_since": row.failing_since.isoformat().replace("+00:00", "Z") if row.failing_since else None,
        },
    )
    return True
