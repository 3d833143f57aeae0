"""API clients (OAuth 2.0 clients) of an account: register, list, rotate the secret, revoke.

A confidential client gets a secret `gws_` plus 43 random characters (256 bits), returned once;
only its keyed hash is stored. A public client (a native or browser app) has no secret and must
use PKCE. Every lookup is scoped to the caller's account: another account's client is a 404.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain.clients import CONFIDENTIAL_AUTH_METHODS, PUBLIC_AUTH_METHOD, check_registration
from giftwell.domain.errors import InsufficientScope, NotFound, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.services import audit
from giftwell.services.access.tokens import forget_cached
from giftwell.store.models import AccessToken, OAuthClient, RefreshToken
from giftwell.store.uow import UnitOfWork

SECRET_PREFIX = "gws_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True, slots=True)
class ClientInfo:
    client_id: str
    account_id: str
    name: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    grant_types: tuple[str, ...]
    token_endpoint_auth_method: str
    created_at: datetime
    secret_rotated_at: datetime | None
    revoked_at: datetime | None

    @property
    def public(self) -> bool:
        return self.token_endpoint_auth_method == PUBLIC_AUTH_METHOD


@dataclass(frozen=True, slots=True)
class NewClient:
    client: ClientInfo
    client_secret: str | None  # shown once; None for a public client


def _info(row: Any) -> ClientInfo:
    return ClientInfo(
        client_id=row.client_id,
        account_id=row.account_id,
        name=row.name,
        redirect_uris=tuple(row.redirect_uris),
        scopes=tuple(row.scopes.split()),
        grant_types=tuple(row.grant_types.split()),
        token_endpoint_auth_method=row.token_endpoint_auth_method,
        created_at=row.created_at,
        secret_rotated_at=row.secret_rotated_at,
        revoked_at=row.revoked_at,
    )


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


async def create_client(
    uow: UnitOfWork,
    *,
    account_id: str,
    name: str,
    redirect_uris: list[str] | tuple[str, ...],
    scopes: list[str] | tuple[str, ...],
    grant_types: list[str] | tuple[str, ...] = ("authorization_code", "refresh_token"),
    public: bool = False,
    grantable: Iterable[str] | None = None,
) -> NewClient:
    """Register a client. `grantable`, when given, bounds the scopes (the caller's own token
    scopes or user role), so nobody registers a client that can do more than they can."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationFailed("client name must be 1 to 200 characters", param="name")
    uris, wanted, grants = check_registration(
        redirect_uris=redirect_uris, scopes=scopes, grant_types=grant_types, public=public
    )
    if grantable is not None:
        beyond = [s for s in wanted if s not in set(grantable)]
        if beyond:
            raise InsufficientScope(f"cannot give a client scopes you do not have: {', '.join(beyond)}", param="scope")
    secret = None if public else _new_secret()
    client_id = new_id("cli")
    await uow.conn.execute(
        sa.insert(OAuthClient).values(
            id=new_id("ocl"),
            client_id=client_id,
            account_id=account_id,
            name=name,
            secret_hash=None if secret is None else uow.rt.keys.token_hash(secret),
            redirect_uris=list(uris),
            scopes=" ".join(wanted),
            grant_types=" ".join(grants),
            token_endpoint_auth_method=PUBLIC_AUTH_METHOD if public else CONFIDENTIAL_AUTH_METHODS[0],
            created_at=uow.now,
            secret_rotated_at=None,
            revoked_at=None,
        )
    )
    await audit.record(
        uow,
        "client.created",
        target=("client", client_id),
        account_id=account_id,
        changes={"name": name, "scopes": list(wanted), "grant_types": list(grants), "public": public},
    )
    return NewClient(await access_client(uow, account_id=account_id, client_id=client_id), secret)


async def list_clients(uow: UnitOfWork, *, account_id: str) -> list[ClientInfo]:
    rows = await uow.conn.execute(
        sa.select(OAuthClient)
        .where(OAuthClient.account_id == account_id)
        .order_by(OAuthClient.created_at.desc(), OAuthClient.id.desc())
    )
    return [_info(r) for r in rows]


async def access_client(uow: UnitOfWork, *, account_id: str, client_id: str) -> ClientInfo:
    """The account's client, or NotFound (also for another account's client)."""
    row = (
        await uow.conn.execute(
            sa.select(OAuthClient).where(OAuthClient.client_id == client_id, OAuthClient.account_id == account_id)
        )
    ).first()
    if row is None:
        raise NotFound("no such client", param="client_id")
    return _info(row)


async def rotate_secret(uow: UnitOfWork, *, account_id: str, client_id: str) -> NewClient:
    """A new secret (returned once); the old one stops working when this commits. Tokens
    already issued stay valid: rotating a secret is not revoking the client."""
    current = await access_client(uow, account_id=account_id, client_id=client_id)
    if current.public:
        raise ValidationFailed("a public client has no secret to rotate", param="client_id")
    if current.revoked_at is not None:
        raise ValidationFailed("the client is revoked", param="client_id")
    secret = _new_secret()
    await uow.conn.execute(
        sa.update(OAuthClient)
        .where(OAuthClient.client_id == client_id, OAuthClient.account_id == account_id)
        .values(secret_hash=uow.rt.keys.token_hash(secret), secret_rotated_at=uow.now)
    )
    await audit.record(uow, "client.secret_rotated", target=("client", client_id), account_id=account_id)
    return NewClient(await access_client(uow, account_id=account_id, client_id=client_id), secret)


async def revoke_client(uow: UnitOfWork, *, account_id: str, client_id: str) -> ClientInfo:
    """Revoke a client and every access and refresh token it holds, in one transaction."""
    await access_client(uow, account_id=account_id, client_id=client_id)
    await uow.conn.execute(
        sa.update(OAuthClient)
        .where(OAuthClient.client_id == client_id, OAuthClient.revoked_at.is_(None))
        .values(revoked_at=uow.now)
    )
    await uow.conn.execute(
        sa.update(AccessToken)
        .where(AccessToken.client_id == client_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=uow.now)
    )
    forget_cached(uow)
    await uow.conn.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.client_id == client_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=uow.now)
    )
    await audit.record(uow, "client.revoked", target=("client", client_id), account_id=account_id)
    return await access_client(uow, account_id=account_id, client_id=client_id)
