"""Personal API tokens: `gw_` plus 43 random url-safe characters (256 bits). Only the keyed hash is
stored; the token itself is shown once, at creation. OAuth access tokens share the table and the
scope model, so `authenticate` answers for both."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from giftwell.domain.access import OPERATOR_SCOPES, Principal, check_scopes
from giftwell.domain.errors import Forbidden, NotFound, Unauthenticated
from giftwell.domain.ids import new_id
from giftwell.services import audit
from giftwell.services.access.accounts import get_account
from giftwell.services.runtime import Runtime
from giftwell.store.models import AccessToken
from giftwell.store.uow import UnitOfWork

TOKEN_PREFIX = "gw_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True, slots=True)
class NewToken:
    id: str
    token: str
    account_id: str
    scopes: tuple[str, ...]


async def create_token(
    uow: UnitOfWork,
    *,
    account_id: str,
    scopes: list[str] | tuple[str, ...],
    name: str | None = None,
    expires_at: datetime | None = None,
    grantable: frozenset[str] | None = None,
) -> NewToken:
    """A personal token with `scopes` (shown once). `grantable`: the most the person asking may
    hand out (a dashboard user's role); a scope beyond it is refused, naming it."""
    wanted = check_scopes(scopes)
    beyond = [s for s in wanted if grantable is not None and s not in grantable]
    if beyond:
        raise Forbidden(f"your role cannot grant {', '.join(beyond)}", param="scope")
    if OPERATOR_SCOPES.intersection(wanted):
        acct = await get_account(uow, account_id)
        if not acct.is_operator:
            names = " and ".join(sorted(OPERATOR_SCOPES.intersection(wanted)))
            raise Forbidden(f"the {names} scope is only for tokens of the operator account", param="scope")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    tok_id = new_id("tok")
    await uow.conn.execute(
        sa.insert(AccessToken).values(
            id=tok_id,
            account_id=account_id,
            token_hash=uow.rt.keys.token_hash(token),
            kind="personal",
            name=name,
            prefix=token[:10],
            scopes=" ".join(wanted),
            client_id=None,
            created_at=uow.now,
            expires_at=expires_at,
            revoked_at=None,
        )
    )
    await audit.record(
        uow,
        "token.created",
        target=("token", tok_id),
        account_id=account_id,
        changes={"name": name, "scopes": list(wanted), "prefix": token[:10], "expires_at": _iso(expires_at)},
    )
    return NewToken(tok_id, token, account_id, wanted)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


async def authenticate(uow: UnitOfWork, token: str) -> Principal:
    """The principal for a bearer token, or `Unauthenticated` (unknown, revoked or expired)."""
    principal, _ = await _lookup(uow, token)
    return principal


async def check_token(rt: Runtime, token: str, *, token_hash: str | None = None) -> Principal:
    """`authenticate`, answered from the process's token cache when it can (`token_hash`: the
    token's current keyed hash, when the caller has it already). A miss reads the token in a
    read-only unit of work and caches the answer for `token_cache_seconds`, never past the
    token's own expiry; unknown and revoked tokens are never cached."""
    if not token:
        raise Unauthenticated("missing bearer token")
    cache = rt.token_cache
    key = token_hash or rt.keys.token_hash(token)
    hit = cache.get(key, rt.clock())
    if hit is not None:
        return hit
    generation = cache.generation
    async with rt.reader() as uow:
        principal, expires_at = await _lookup(uow, token)
    cache.put(key, principal, expires_at=expires_at, generation=generation)
    return principal


async def _lookup(uow: UnitOfWork, token: str) -> tuple[Principal, datetime | None]:
    hashes = uow.rt.keys.token_hashes(token)
    if len(hashes) == 1:
        row = (await uow.conn.execute(_TOKEN_BY_HASH, {"token_hash": hashes[0]})).first()
    else:  # a key rotation: the token may have been hashed under a previous secret
        row = (await uow.conn.execute(_TOKEN_BY_HASHES, {"hashes": list(hashes)})).first()
    if row is None or (row.expires_at is not None and row.expires_at <= uow.now):
        raise Unauthenticated("invalid or expired token", reason="invalid_token")
    return Principal(row.account_id, row.id, frozenset(row.scopes.split())), row.expires_at


def forget_cached(uow: UnitOfWork) -> None:
    """Call in a transaction that revokes tokens: once it commits, this process's token cache is
    emptied, so the revocation takes effect here at once (other processes: within
    `token_cache_seconds`)."""

    async def clear() -> None:
        uow.rt.token_cache.clear()

    uow.after_commit(clear)


async def revoke_token(uow: UnitOfWork, *, account_id: str, token_id: str) -> None:
    res = await uow.conn.execute(
        sa.update(AccessToken)
        .where(AccessToken.id == token_id, AccessToken.account_id == account_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=uow.now)
        .returning(AccessToken.id)
    )
    if res.first() is None:
        raise NotFound("no such token", param="token")
    forget_cached(uow)
    await audit.record(uow, "token.revoked", target=("token", token_id), account_id=account_id)


# Built once: the token check runs on every request, and building a statement costs more than
# running it.
_TOKEN_BY_HASH = sa.select(AccessToken.id, AccessToken.account_id, AccessToken.scopes, AccessToken.expires_at).where(
    AccessToken.token_hash == sa.bindparam("token_hash"), AccessToken.revoked_at.is_(None)
)
_TOKEN_BY_HASHES = sa.select(AccessToken.id, AccessToken.account_id, AccessToken.scopes, AccessToken.expires_at).where(
    AccessToken.token_hash.in_(sa.bindparam("hashes", expanding=True)), AccessToken.revoked_at.is_(None)
)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A personal token as its account sees it: never the token, only its first characters."""

    id: str
    name: str | None
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None


async def list_tokens(uow: UnitOfWork, *, account_id: str) -> list[TokenInfo]:
    """The account's live personal tokens (OAuth access tokens are the clients' business), newest first."""
    rows = await uow.conn.execute(
        sa.select(AccessToken)
        .where(
            AccessToken.account_id == account_id,
            AccessToken.kind == "personal",
            AccessToken.revoked_at.is_(None),
            sa.or_(AccessToken.expires_at.is_(None), AccessToken.expires_at > uow.now),
        )
        .order_by(AccessToken.created_at.desc(), AccessToken.id.desc())
    )
    return [TokenInfo(r.id, r.name, r.prefix, tuple(r.scopes.split()), r.created_at, r.expires_at) for r in rows]
