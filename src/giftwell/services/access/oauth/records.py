"""The OAuth server's storage: clients, codes and tokens, only ever by keyed hash.

Async functions on a `UnitOfWork`; the Authlib callbacks (server.py) call them through the
bridge. Single use is enforced by guarded updates (`used_at IS NULL`), never read-then-write:
of two requests racing with one code or one refresh token, exactly one wins the update; the
other sees a replay and revokes the whole family.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from giftwell.domain.access import scope_list
from giftwell.domain.clients import CONFIDENTIAL_AUTH_METHODS, PUBLIC_AUTH_METHOD
from giftwell.domain.ids import new_id
from giftwell.keys import Keys
from giftwell.services.access.tokens import forget_cached
from giftwell.store.models import AccessToken, OAuthClient, OAuthCode, RefreshToken
from giftwell.store.uow import UnitOfWork

ACCESS_PREFIX = "gwa_"
REFRESH_PREFIX = "gwr_"


def new_access_token() -> str:
    return ACCESS_PREFIX + secrets.token_urlsafe(32)


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


@dataclass(eq=False)
class Client:
    """A registered client as Authlib's `ClientMixin` expects it (duck-typed)."""

    client_id: str
    account_id: str
    name: str
    secret_hash: str | None
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    grant_types: tuple[str, ...]
    auth_method: str
    keys: Keys = field(repr=False)

    @property
    def public(self) -> bool:
        return self.auth_method == PUBLIC_AUTH_METHOD

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Only an unambiguous default: with several registered URIs the request must name one.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scope to grant, or None (-> invalid_scope) when it reaches beyond the client's
        registration. Omitted: everything the client is registered for (RFC 6749 section 3.3)."""
        if not scope:
            return " ".join(self.scopes)
        wanted = scope_list(scope)
        if not wanted or any(s not in self.scopes for s in wanted):
            return None
        return " ".join(wanted)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string comparison (RFC 9700 section 4.1.3): no prefix, path or query leniency.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.secret_hash is None:
            return False
        stored = self.secret_hash
        return any(hmac.compare_digest(h, stored) for h in self.keys.token_hashes(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.public:
            return method == PUBLIC_AUTH_METHOD
        return method in CONFIDENTIAL_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass(frozen=True)
class Code:
    """A claimed authorization code, as Authlib's `AuthorizationCodeMixin`."""

    client_id: str
    account_id: str
    user_id: str
    redirect_uri: str | None
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    family_id: str

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True)
class Token:
    """An access or refresh token found by hash (Authlib's `TokenMixin`, the parts it uses)."""

    kind: str  # "access_token" or "refresh_token"
    id: str
    client_id: str
    account_id: str
    user_id: str | None
    scope: str
    family_id: str | None

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Outcome:
    """What a request did besides its answer. `commit_on_error`: a replay was detected and the
    family revoked; that must persist even though the request itself fails."""

    commit_on_error: bool = False


async def load_client(uow: UnitOfWork, client_id: str) -> Client | None:
    row = (
        await uow.conn.execute(
            sa.select(OAuthClient).where(OAuthClient.client_id == client_id, OAuthClient.revoked_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    return Client(
        client_id=row.client_id,
        account_id=row.account_id,
        name=row.name,
        secret_hash=row.secret_hash,
        redirect_uris=tuple(row.redirect_uris),
        scopes=tuple(row.scopes.split()),
        grant_types=tuple(row.grant_types.split()),
        auth_method=row.token_endpoint_auth_method,
        keys=uow.rt.keys,
    )


async def save_code(
    uow: UnitOfWork,
    *,
    code: str,
    client: Client,
    user_id: str,
    account_id: str,
    redirect_uri: str | None,
    scope: str,
    code_challenge: str | None,
    code_challenge_method: str | None,
) -> None:
    await uow.conn.execute(
        sa.insert(OAuthCode).values(
            code_hash=uow.rt.keys.token_hash(code),
            client_id=client.client_id,
            account_id=account_id,
            user_id=user_id,
            redirect_uri=redirect_uri,
            scope=scope,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method if code_challenge else None,
            family_id=new_id("fam"),
            created_at=uow.now,
            expires_at=uow.now + timedelta(seconds=uow.rt.settings.auth_code_ttl_seconds),
            used_at=None,
        )
    )


async def claim_code(uow: UnitOfWork, code: str, client: Client, outcome: Outcome) -> Code | None:
    """Use a code once. None -> invalid_grant: unknown, expired, another client's, or used
    before, in which case every token issued from it is revoked (RFC 6749 section 4.1.2).

    Another client presenting the code does not burn it: it proves nothing about the code.
    A failure later in the same request (redirect URI, PKCE) rolls the claim back with it.
    """
    hashes = uow.rt.keys.token_hashes(code)
    row = (await uow.conn.execute(sa.select(OAuthCode).where(OAuthCode.code_hash.in_(hashes)))).first()
    if row is None or row.client_id != client.client_id:
        return None
    code_hash = row.code_hash
    if row.used_at is None and row.expires_at <= uow.now:
        return None
    claimed = (
        await uow.conn.execute(
            sa.update(OAuthCode)
            .where(OAuthCode.code_hash == code_hash, OAuthCode.used_at.is_(None))
            .values(used_at=uow.now)
            .returning(OAuthCode.code_hash)
        )
    ).first()
    if claimed is None:
        await revoke_family(uow, row.family_id)
        outcome.commit_on_error = True
        return None
    return Code(
        client_id=row.client_id,
        account_id=row.account_id,
        user_id=row.user_id,
        redirect_uri=row.redirect_uri,
        scope=row.scope,
        code_challenge=row.code_challenge,
        code_challenge_method=row.code_challenge_method,
        family_id=row.family_id,
    )


async def claim_refresh_token(uow: UnitOfWork, token: str, client: Client, outcome: Outcome) -> Token | None:
    """Use a refresh token once (rotation). None -> invalid_grant: unknown, expired, another
    client's, or already used or revoked; a used or revoked one means it leaked or was replayed,
    so the whole family (every access and refresh token of that grant) is revoked."""
    hashes = uow.rt.keys.token_hashes(token)
    row = (await uow.conn.execute(sa.select(RefreshToken).where(RefreshToken.token_hash.in_(hashes)))).first()
    if row is None or row.client_id != client.client_id:
        return None
    if row.used_at is None and row.revoked_at is None and row.expires_at <= uow.now:
        return None
    claimed = (
        await uow.conn.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
            .values(used_at=uow.now)
            .returning(RefreshToken.id)
        )
    ).first()
    if claimed is None:
        await revoke_family(uow, row.family_id)
        outcome.commit_on_error = True
        return None
    return Token("refresh_token", row.id, row.client_id, row.account_id, row.user_id, row.scopes, row.family_id)


async def revoke_family(uow: UnitOfWork, family_id: str) -> None:
    """Revoke every access and refresh token descended from one authorization."""
    await uow.conn.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=uow.now)
    )
    await uow.conn.execute(
        sa.update(AccessToken)
        .where(AccessToken.family_id == family_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=uow.now)
    )
    forget_cached(uow)


async def save_tokens(
    uow: UnitOfWork,
    token: dict[str, Any],
    *,
    client: Client,
    account_id: str,
    user_id: str | None,
    family_id: str,
    refresh_scope: str | None = None,
) -> None:
    """Store what the token endpoint is about to return, as keyed hashes. `refresh_scope` keeps
    a rotated refresh token at the original grant even when this refresh asked for less."""
    scope = token.get("scope") or ""
    access = token["access_token"]
    await uow.conn.execute(
        sa.insert(AccessToken).values(
            id=new_id("tok"),
            account_id=account_id,
            token_hash=uow.rt.keys.token_hash(access),
            kind="oauth",
            name=client.name[:200],
            prefix=access[:10],
            scopes=scope,
            client_id=client.client_id,
            created_at=uow.now,
            expires_at=uow.now + timedelta(seconds=int(token["expires_in"])),
            revoked_at=None,
            family_id=family_id,
        )
    )
    refresh = token.get("refresh_token")
    if refresh:
        await uow.conn.execute(
            sa.insert(RefreshToken).values(
                id=new_id("rtk"),
                token_hash=uow.rt.keys.token_hash(refresh),
                family_id=family_id,
                client_id=client.client_id,
                account_id=account_id,
                user_id=user_id,
                scopes=refresh_scope or scope,
                created_at=uow.now,
                expires_at=uow.now + timedelta(seconds=int(token["refresh_token_expires_in"])),
                used_at=None,
                revoked_at=None,
            )
        )


async def find_token(uow: UnitOfWork, token: str, hint: str | None) -> Token | None:
    """An OAuth access or refresh token by value, for revocation (the hint only orders the
    lookups, RFC 7009 section 2.1). Personal tokens are not revocable here."""
    hashes = uow.rt.keys.token_hashes(token)
    order = ["refresh_token", "access_token"] if hint == "refresh_token" else ["access_token", "refresh_token"]
    for kind in order:
        if kind == "access_token":
            a = (
                await uow.conn.execute(
                    sa.select(AccessToken).where(AccessToken.token_hash.in_(hashes), AccessToken.kind == "oauth")
                )
            ).first()
            if a is not None and a.client_id is not None:
                return Token(kind, a.id, a.client_id, a.account_id, None, a.scopes, a.family_id)
        else:
            r = (await uow.conn.execute(sa.select(RefreshToken).where(RefreshToken.token_hash.in_(hashes)))).first()
            if r is not None:
                return Token(kind, r.id, r.client_id, r.account_id, r.user_id, r.scopes, r.family_id)
    return None


async def revoke_token(uow: UnitOfWork, token: Token) -> None:
    """RFC 7009: an access token alone; a refresh token with its whole family (section 2.1:
    revoking a refresh token SHOULD also invalidate the access tokens of the same grant)."""
    if token.kind == "refresh_token" and token.family_id:
        await revoke_family(uow, token.family_id)
        return
    await uow.conn.execute(
        sa.update(AccessToken)
        .where(AccessToken.id == token.id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=uow.now)
    )
    forget_cached(uow)
