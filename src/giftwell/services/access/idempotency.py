"""Idempotency keys for POST requests (scoped to the account, kept at least 24 hours).

`claim` runs in its own short transaction before the request: it records the key as in flight
(or finds it). `complete` runs inside the request's own transaction, so the stored response
commits together with the change it describes: a crash leaves either both or neither. A key
left in flight by a crashed request may be taken over once its lease ends; since that request's
transaction never committed, nothing is done twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from giftwell.domain.errors import IdempotencyKeyInUse, IdempotencyKeyReused, ValidationFailed
from giftwell.services.runtime import Runtime
from giftwell.store.models import IdempotencyKey
from giftwell.store.uow import UnitOfWork

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Stored:
    status: int
    body: bytes


def request_hash(method: str, path: str, body: bytes) -> str:
    """The fingerprint of a request's parameters: a retry matches it however its JSON is spaced
    or its keys ordered, and any other parameters do not."""
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), _canonical(body)):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def _canonical(body: bytes) -> bytes:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return body  # not JSON (an empty body, say): the bytes are the parameters
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters", param="Idempotency-Key"
        )
    return key


async def claim(rt: Runtime, *, account_id: str, key: str, fingerprint: str) -> Stored | None:
    """Claim `key` for a new request. Returns the stored response to replay, or None to proceed."""
    async with rt.uow() as uow:
        now = uow.now
        lease = now + timedelta(seconds=rt.settings.idempotency_lease_seconds)
        try:
            await uow.conn.execute(
                sa.insert(IdempotencyKey).values(
                    account_id=account_id,
                    key=key,
                    request_hash=fingerprint,
                    state="in_flight",
                    locked_until=lease,
                    response_status=None,
                    response_body=None,
                    created_at=now,
                )
            )
            await uow.commit()
            return None
        except IntegrityError:
            pass
    async with rt.uow() as uow:
        row = (
            await uow.conn.execute(
                sa.select(IdempotencyKey).where(IdempotencyKey.account_id == account_id, IdempotencyKey.key == key)
            )
        ).first()
        if row is None:  # expired and purged between the two statements: try once more
            return await claim(rt, account_id=account_id, key=key, fingerprint=fingerprint)
        if row.request_hash != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with different parameters", param="Idempotency-Key"
            )
        if row.state == "done":
            body = rt.keys.decrypt(row.response_body, aad=f"idem:{account_id}:{key}").encode()
            return Stored(int(row.response_status), body)
        taken = await uow.conn.execute(
            sa.update(IdempotencyKey)
            .where(
                IdempotencyKey.account_id == account_id,
                IdempotencyKey.key == key,
                IdempotencyKey.state == "in_flight",
                IdempotencyKey.locked_until <= uow.now,
            )
            .values(locked_until=uow.now + timedelta(seconds=rt.settings.idempotency_lease_seconds))
            .returning(IdempotencyKey.key)
        )
        if taken.first() is None:
            raise IdempotencyKeyInUse(
                "a request with this Idempotency-Key is still in progress", param="Idempotency-Key"
            )
        await uow.commit()
        return None


async def complete(uow: UnitOfWork, *, account_id: str, key: str, status: int, body: bytes) -> None:
    """Store the response for `key` in the caller's transaction."""
    await uow.conn.execute(
        sa.update(IdempotencyKey)
        .where(IdempotencyKey.account_id == account_id, IdempotencyKey.key == key)
        .values(
            state="done",
            response_status=status,
            response_body=uow.rt.keys.encrypt(body.decode(), aad=f"idem:{account_id}:{key}"),
        )
    )


async def release(rt: Runtime, *, account_id: str, key: str) -> None:
    """Forget an in-flight key whose request failed unexpectedly, so a retry can run."""
    async with rt.uow() as uow:
        await uow.conn.execute(
            sa.delete(IdempotencyKey).where(
                IdempotencyKey.account_id == account_id, IdempotencyKey.key == key, IdempotencyKey.state == "in_flight"
            )
        )
        await uow.commit()


async def purge(uow: UnitOfWork) -> int:
    cutoff = uow.now - timedelta(hours=uow.rt.settings.idempotency_ttl_hours)
    res = await uow.conn.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(res.rowcount or 0)
