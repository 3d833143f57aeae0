"""Accounts and personal API tokens.

A token is `gw_` plus 43 random url-safe characters (256 bits). Only its keyed hash is stored;
the token itself is returned once, at creation. OAuth access tokens will share the table and
the scope model.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from giftwell.domain.access import OPERATOR_SCOPES, Principal, check_scopes
from giftwell.domain.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.store.models import AccessToken, Account
from giftwell.store.uow import UnitOfWork

TOKEN_PREFIX = "gw_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: str
    name: str
    created_at: datetime
    is_operator: bool = False


@dataclass(frozen=True, slots=True)
class NewToken:
    id: str
    token: str
    account_id: str
    scopes: tuple[str, ...]


async def create_account(uow: UnitOfWork, *, name: str, operator: bool = False) -> AccountInfo:
    """Create an account. `operator=True` makes it the operator's (there is one: it issues house
    products, receives sales, and is the only account whose tokens may hold `admin`)."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationFailed("account name must be 1 to 200 characters", param="name")
    acct = AccountInfo(new_id("acct"), name, uow.now, operator)
    exists = await uow.conn.execute(sa.select(Account.id).where(Account.name == name))
    if exists.first() is not None:
        raise Conflict(f"an account named {name!r} already exists", param="name")
    if operator:
        other = await uow.conn.execute(sa.select(Account.name).where(Account.is_operator.is_(True)))
        taken = other.first()
        if taken is not None:
            raise Conflict(f"the operator account already exists ({taken.name!r})", param="operator")
    try:
        await uow.conn.execute(
            sa.insert(Account).values(id=acct.id, name=acct.name, is_operator=operator, created_at=acct.created_at)
        )
    except IntegrityError:
        raise Conflict(f"an account named {name!r} already exists", param="name") from None
    return acct


async def operator_account(uow: UnitOfWork) -> AccountInfo:
    """The operator's account, or `NotFound` telling the operator how to create it."""
    row = (await uow.conn.execute(sa.select(Account).where(Account.is_operator.is_(True)))).first()
    if row is None:
        raise NotFound(
            "no operator account: create one with `giftwell accounts create NAME --operator`", param="operator"
        )
    return AccountInfo(row.id, row.name, row.created_at, bool(row.is_operator))


async def get_account(uow: UnitOfWork, account_id: str) -> AccountInfo:
    """The account itself (its name is what a dialect shows as the issuer's brand)."""
    row = (await uow.conn.execute(sa.select(Account).where(Account.id == account_id))).first()
    if row is None:
        raise NotFound("no such account", param="account")
    return AccountInfo(row.id, row.name, row.created_at, bool(row.is_operator))


async def account_by_name(uow: UnitOfWork, name: str) -> AccountInfo:
    row = (await uow.conn.execute(sa.select(Account).where(Account.name == name))).first()
    if row is None:
        raise NotFound(f"no account named {name!r}", param="account")
    return AccountInfo(row.id, row.name, row.created_at, bool(row.is_operator))


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
            raise Forbidden("the admin scope is only for tokens of the operator account", param="scope")
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


# Built once: the token check runs on every request, and building a statement costs more than
# running it.
_TOKEN_BY_HASH = sa.select(AccessToken.id, AccessToken.account_id, AccessToken.scopes, AccessToken.expires_at).where(
    AccessToken.token_hash == sa.bindparam("token_hash"), AccessToken.revoked_at.is_(None)
)


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
