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
from giftwell.services.access.accounts import get_account
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
) -> NewToken:
    wanted = check_scopes(scopes)
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
    return NewToken(tok_id, token, account_id, wanted)


async def authenticate(uow: UnitOfWork, token: str) -> Principal:
    """The principal for a bearer token, or `Unauthenticated` (unknown, revoked or expired)."""
    if not token:
        raise Unauthenticated("missing bearer token")
    row = (await uow.conn.execute(_TOKEN_BY_HASH, {"token_hash": uow.rt.keys.token_hash(token)})).first()
    if row is None or (row.expires_at is not None and row.expires_at <= uow.now):
        raise Unauthenticated("invalid or expired token", reason="invalid_token")
    return Principal(row.account_id, row.id, frozenset(row.scopes.split()))


async def revoke_token(uow: UnitOfWork, *, account_id: str, token_id: str) -> None:
    res = await uow.conn.execute(
        sa.update(AccessToken)
        .where(AccessToken.id == token_id, AccessToken.account_id == account_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=uow.now)
        .returning(AccessToken.id)
    )
    if res.first() is None:
        raise NotFound("no such token", param="token")


# Built once: the token check runs on every request, and building a statement costs more than
# running it.
_TOKEN_BY_HASH = sa.select(AccessToken.id, AccessToken.account_id, AccessToken.scopes, AccessToken.expires_at).where(
    AccessToken.token_hash == sa.bindparam("token_hash"), AccessToken.revoked_at.is_(None)
)
