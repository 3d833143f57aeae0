"""Accounts and personal API tokens.

A token is `gw_` plus 43 random url-safe characters (256 bits). Only its keyed hash is stored;
the token itself is returned once, at creation. OAuth access tokens will share the table and
the scope model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from giftwell.domain.errors import Conflict, NotFound, ValidationFailed
from giftwell.domain.expiry_policy import ExpiryPolicy
from giftwell.domain.ids import new_id
from giftwell.services import audit
from giftwell.store.models import Account
from giftwell.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: str
    name: str
    created_at: datetime
    is_operator: bool = False
    expiry_policy: ExpiryPolicy | None = None


def _info(row: Any) -> AccountInfo:
    policy = ExpiryPolicy(int(row.expiry_min_days), row.expiry_rule) if row.expiry_min_days else None
    return AccountInfo(row.id, row.name, row.created_at, bool(row.is_operator), policy)


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
    await audit.record(
        uow,
        "account.created",
        target=("account", acct.id),
        account_id=acct.id,
        changes={"name": name, "operator": operator},
    )
    return acct


async def operator_account(uow: UnitOfWork) -> AccountInfo:
    """The operator's account, or `NotFound` telling the operator how to create it."""
    row = (await uow.conn.execute(sa.select(Account).where(Account.is_operator.is_(True)))).first()
    if row is None:
        raise NotFound(
            "no operator account: create one with `giftwell accounts create NAME --operator`", param="operator"
        )
    return _info(row)


async def get_account(uow: UnitOfWork, account_id: str) -> AccountInfo:
    """The account itself (its name is what a dialect shows as the issuer's brand)."""
    row = (await uow.conn.execute(sa.select(Account).where(Account.id == account_id))).first()
    if row is None:
        raise NotFound("no such account", param="account")
    return _info(row)


async def list_accounts(uow: UnitOfWork, *, limit: int = 500) -> list[AccountInfo]:
    """Accounts by name (the operator's pages choose one from them), at most `limit`."""
    rows = await uow.conn.execute(sa.select(Account).order_by(Account.name).limit(limit))
    return [_info(r) for r in rows]


async def account_by_name(uow: UnitOfWork, name: str) -> AccountInfo:
    row = (await uow.conn.execute(sa.select(Account).where(Account.name == name))).first()
    if row is None:
        raise NotFound(f"no account named {name!r}", param="account")
    return _info(row)


async def set_expiry_policy(uow: UnitOfWork, *, account_id: str, policy: ExpiryPolicy | None) -> AccountInfo:
    """Set (or, with None, clear) the expiry policy every card of the account is issued under."""
    await get_account(uow, account_id)
    await uow.conn.execute(
        sa.update(Account)
        .where(Account.id == account_id)
        .values(
            expiry_min_days=policy.min_days if policy else None,
            expiry_rule=policy.rule if policy else None,
        )
    )
    return await get_account(uow, account_id)
