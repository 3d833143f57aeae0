"""Clients that sign their own requests: register a public key under a key id (creating the
client's `apiClientId`, or adding a second key to it for a rotation), list keys, revoke one.

A key is an EC P-256 public key in PEM (SubjectPublicKeyInfo, what `openssl ec -pubout` writes);
a private key, another curve or another kind of key is refused, and the private key never
reaches Giftwell. At most `MAX_ACTIVE_KEYS` keys of a client are active at once: the current one
and its successor. The operator registers keys for an account (the CLI, the operator API); the
dashboard reads them with `list_keys`. Tokens signed with them are checked by `signed_tokens`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from giftwell.domain.access import OPERATOR_SCOPES, check_scopes
from giftwell.domain.errors import Conflict, NotFound, ValidationFailed
from giftwell.domain.signing import DEFAULT_SCOPES, MAX_ACTIVE_KEYS, check_kid
from giftwell.services import audit
from giftwell.services.access.accounts import get_account
from giftwell.store.models import SigningClient, SigningKey, UsedTokenId
from giftwell.store.uow import UnitOfWork

MAX_PEM = 4096


@dataclass(frozen=True, slots=True)
class SigningKeyInfo:
    kid: str
    api_client_id: str
    account_id: str
    name: str  # the client's
    scopes: tuple[str, ...]  # the client's
    thumbprint: str
    public_key: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def parse_public_key(pem: Any, *, param: str = "public_key") -> tuple[str, str]:
    """(the key as PEM, its RFC 7638 thumbprint) for an EC P-256 public key, or a validation
    error naming `param` that says what was wrong with it."""
    if not isinstance(pem, str) or not pem.strip() or len(pem) > MAX_PEM:
        raise ValidationFailed("public_key must be a PEM public key (-----BEGIN PUBLIC KEY-----)", param=param)
    if "PRIVATE KEY" in pem:
        raise ValidationFailed(
            "this is a private key: register the public key only (openssl ec -in key.pem -pubout)", param=param
        )
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except ValueError:
        raise ValidationFailed("public_key is not a readable PEM public key", param=param) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValidationFailed("public_key must be an EC P-256 (prime256v1) key, for ES256", param=param)
    text = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return text, ECKey.import_key(text).thumbprint()


_KEYS = sa.select(
    SigningKey.kid,
    SigningKey.api_client_id,
    SigningKey.account_id,
    SigningClient.name,
    SigningClient.scopes,
    SigningKey.thumbprint,
    SigningKey.public_key,
    SigningKey.created_at,
    # A key is as revoked as its client.
    sa.func.coalesce(SigningKey.revoked_at, SigningClient.revoked_at).label("revoked_at"),
).join(SigningClient, SigningClient.id == SigningKey.api_client_id)


def _info(r: Any) -> SigningKeyInfo:
    return SigningKeyInfo(
        kid=r.kid,
        api_client_id=r.api_client_id,
        account_id=r.account_id,
        name=r.name,
        scopes=tuple(r.scopes.split()),
        thumbprint=r.thumbprint,
        public_key=r.public_key,
        created_at=r.created_at,
        revoked_at=r.revoked_at,
    )


async def get_key(uow: UnitOfWork, kid: str) -> SigningKeyInfo:
    row = (await uow.conn.execute(_KEYS.where(SigningKey.kid == kid))).first()
    if row is None:
        raise NotFound("no such key", param="kid")
    return _info(row)


async def _new_client(uow: UnitOfWork, *, account_id: str, name: str | None, scopes: list[str] | None) -> str:
    wanted = check_scopes(list(scopes or DEFAULT_SCOPES), param="scopes")
    if OPERATOR_SCOPES.intersection(wanted):
        raise ValidationFailed("the operator scope cannot be given to a client", param="scopes")
    label = (name or "").strip() or "Signed requests"
    if len(label) > 200:
        raise ValidationFailed("name must be at most 200 characters", param="name")
    client_id = str(uuid.uuid4())
    await uow.conn.execute(
        sa.insert(SigningClient).values(
            id=client_id,
            account_id=account_id,
            name=label,
            scopes=" ".join(wanted),
            created_at=uow.now,
            revoked_at=None,
        )
    )
    return client_id


async def _existing_client(uow: UnitOfWork, *, account_id: str, api_client_id: str) -> str:
    # Locked: two keys added to one client at once count each other.
    row = (
        await uow.conn.execute(
            sa.select(SigningClient.id, SigningClient.revoked_at)
            .where(SigningClient.id == api_client_id, SigningClient.account_id == account_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("no such apiClientId in this account", param="api_client_id")
    if row.revoked_at is not None:
        raise ValidationFailed("this apiClientId is revoked", param="api_client_id")
    active = await uow.conn.scalar(
        sa.select(sa.func.count())
        .select_from(SigningKey)
        .where(SigningKey.api_client_id == api_client_id, SigningKey.revoked_at.is_(None))
    )
    if int(active or 0) >= MAX_ACTIVE_KEYS:
        raise Conflict(
            f"this apiClientId already has {MAX_ACTIVE_KEYS} active keys: revoke one before adding another",
            param="api_client_id",
        )
    return api_client_id


async def add_key(
    uow: UnitOfWork,
    *,
    account_id: str,
    kid: str,
    public_key: str,
    api_client_id: str | None = None,
    scopes: list[str] | None = None,
    name: str | None = None,
) -> SigningKeyInfo:
    """Register `public_key` under `kid` for the account. Without `api_client_id`, a new client
    is made (with `scopes`, by default orders and products) and its `apiClientId` returned with
    the key; with one, the key is added to that client (a rotation) and keeps its scopes."""
    check_kid(kid)
    pem, thumbprint = parse_public_key(public_key)
    await get_account(uow, account_id)
    if await uow.conn.scalar(sa.select(SigningKey.kid).where(SigningKey.kid == kid)) is not None:
        raise Conflict("a key with this kid is already registered", param="kid")
    if api_client_id is None:
        client_id = await _new_client(uow, account_id=account_id, name=name, scopes=scopes)
    else:
        if scopes:
            raise ValidationFailed("an existing apiClientId keeps its scopes: give scopes or it", param="scopes")
        client_id = await _existing_client(uow, account_id=account_id, api_client_id=api_client_id)
    await uow.conn.execute(
        sa.insert(SigningKey).values(
            kid=kid,
            api_client_id=client_id,
            account_id=account_id,
            public_key=pem,
            thumbprint=thumbprint,
            created_at=uow.now,
            revoked_at=None,
        )
    )
    await audit.record(
        uow,
        "signing_key.added",
        target=("signing_key", kid),
        account_id=account_id,
        changes={"api_client_id": client_id, "thumbprint": thumbprint},
    )
    return await get_key(uow, kid)


async def list_keys(uow: UnitOfWork, *, account_id: str) -> list[SigningKeyInfo]:
    """The account's keys, newest first, revoked ones included (with `revoked_at`)."""
    rows = await uow.conn.execute(
        _KEYS.where(SigningKey.account_id == account_id).order_by(SigningKey.created_at.desc(), SigningKey.kid)
    )
    return [_info(r) for r in rows]


async def revoke_key(uow: UnitOfWork, *, kid: str, account_id: str | None = None) -> SigningKeyInfo:
    """Revoke a key (tokens signed with it are refused from this commit on). `account_id`, when
    given, must own it (NotFound otherwise). Revoking a revoked key changes nothing."""
    q = sa.update(SigningKey).where(SigningKey.kid == kid, SigningKey.revoked_at.is_(None))
    if account_id is not None:
        q = q.where(SigningKey.account_id == account_id)
    revoked = (await uow.conn.execute(q.values(revoked_at=uow.now).returning(SigningKey.kid))).first()
    found = await get_key(uow, kid)
    if account_id is not None and found.account_id != account_id:
        raise NotFound("no such key", param="kid")
    if revoked is not None:
        await audit.record(uow, "signing_key.revoked", target=("signing_key", kid), account_id=found.account_id)
    return found


async def purge_used_token_ids(uow: UnitOfWork) -> int:
    """Forget used `jti`s whose tokens can no longer pass the freshness check (the sweep)."""
    res = await uow.conn.execute(sa.delete(UsedTokenId).where(UsedTokenId.keep_until < uow.now))
    return int(res.rowcount or 0)
