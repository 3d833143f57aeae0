"""Users, sign-in with lockout, and web sessions.

Passwords are hashed with argon2id (argon2-cffi's defaults), off the event loop since a hash
costs tens of milliseconds of CPU. A web session is a random cookie value; only its keyed hash is
stored, and its CSRF token is derived from the cookie value, so a database dump reveals neither.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from giftwell.domain.access import check_role
from giftwell.domain.contacts import check_email
from giftwell.domain.errors import Conflict, NotFound, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.domain.users import LockoutPolicy, check_password
from giftwell.services import audit
from giftwell.store.models import User, WebSession
from giftwell.store.uow import UnitOfWork

_HASHER = PasswordHasher()


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: str
    account_id: str
    email: str
    role: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A signed-in browser: the user, and the CSRF token its forms must carry."""

    user: UserInfo
    session_id: str
    csrf: str


@dataclass(frozen=True, slots=True)
class NewSession:
    cookie: str  # the raw cookie value: goes to the browser only
    info: SessionInfo


def _info(row: Any) -> UserInfo:
    return UserInfo(row.id, row.account_id, row.email, row.role, row.created_at)


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_HASHER.hash, password)


@cache
def _dummy_hash() -> str:
    # Verified against when the email is unknown, so an unknown email costs as long as a wrong
    # password and the timing does not tell which emails exist.
    return _HASHER.hash(secrets.token_urlsafe(16))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def create_user(uow: UnitOfWork, *, account_id: str, email: str, password: str, role: str) -> UserInfo:
    """Add a user to an account. Emails are unique across Giftwell (sign-in asks only for one)."""
    email = check_email(email)
    check_role(role)
    pw_hash = await hash_password(check_password(password))
    user = UserInfo(new_id("usr"), account_id, email, role, uow.now)
    exists = await uow.conn.execute(sa.select(User.id).where(User.email == email))
    if exists.first() is not None:
        raise Conflict("a user with this email already exists", param="email")
    try:
        await uow.conn.execute(
            sa.insert(User).values(
                id=user.id,
                account_id=account_id,
                email=email,
                password_hash=pw_hash,
                role=role,
                failed_logins=0,
                locked_until=None,
                created_at=uow.now,
            )
        )
    except IntegrityError:
        raise Conflict("a user with this email already exists", param="email") from None
    await audit.record(
        uow, "user.created", target=("user", user.id), account_id=account_id, changes={"email": email, "role": role}
    )
    return user


async def change_role(uow: UnitOfWork, *, account_id: str, email: str, role: str) -> UserInfo:
    """Give an account's user another role (owner, admin or viewer); recorded in the audit log."""
    check_role(role)
    row = (
        await uow.conn.execute(
            sa.select(User).where(User.account_id == account_id, User.email == check_email(email)).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("no such user in this account", param="email")
    if row.role != role:
        await uow.conn.execute(sa.update(User).where(User.id == row.id).values(role=role))
        await audit.record(
            uow, "user.role_changed", target=("user", row.id), account_id=account_id, changes={"role": [row.role, role]}
        )
    return await user_by_id(uow, row.id)


async def user_by_id(uow: UnitOfWork, user_id: str) -> UserInfo:
    row = (await uow.conn.execute(sa.select(User).where(User.id == user_id))).first()
    if row is None:
        raise NotFound("no such user", param="user")
    return _info(row)


async def sign_in(uow: UnitOfWork, *, email: str, password: str, policy: LockoutPolicy) -> UserInfo | None:
    """The user for these credentials, or None: unknown email, wrong password or locked user,
    deliberately indistinguishable. A failure is recorded in `uow`: commit it either way.

    The failure count is a guarded increment, so concurrent guesses cannot slip past the limit.
    """
    try:
        email = check_email(email)
    except ValidationFailed:  # a malformed email is one more wrong credential
        email = ""
    row = (await uow.conn.execute(sa.select(User).where(User.email == email))).first() if email else None
    if row is None:
        await anyio.to_thread.run_sync(_verify, _dummy_hash(), password)
        return None
    if LockoutPolicy.is_locked(row.locked_until, uow.now):
        return None
    if await anyio.to_thread.run_sync(_verify, row.password_hash, password):
        values: dict[str, object] = {"failed_logins": 0, "locked_until": None}
        if _HASHER.check_needs_rehash(row.password_hash):
            values["password_hash"] = await hash_password(password)
        await uow.conn.execute(sa.update(User).where(User.id == row.id).values(**values))
        return _info(row)
    failures = (
        await uow.conn.execute(
            sa.update(User)
            .where(User.id == row.id)
            .values(failed_logins=User.failed_logins + 1)
            .returning(User.failed_logins)
        )
    ).scalar_one()
    if policy.trips(failures):
        await uow.conn.execute(
            sa.update(User).where(User.id == row.id).values(failed_logins=0, locked_until=policy.locked_until(uow.now))
        )
    return None


async def sign_in_and_start_session(
    uow: UnitOfWork, *, email: str, password: str, policy: LockoutPolicy, ttl_seconds: int
) -> NewSession | None:
    """`sign_in`, then a session for the user; None when the credentials are refused. Commit
    either way: a refusal is recorded for the lockout."""
    user = await sign_in(uow, email=email, password=password, policy=policy)
    return None if user is None else await start_session(uow, user=user, ttl_seconds=ttl_seconds)


async def start_session(uow: UnitOfWork, *, user: UserInfo, ttl_seconds: int) -> NewSession:
    """A new web session for a signed-in user; the cookie value is returned once."""
    cookie = secrets.token_urlsafe(32)
    session_id = uow.rt.keys.token_hash(cookie)
    await uow.conn.execute(
        sa.insert(WebSession).values(
            id=session_id,
            user_id=user.id,
            created_at=uow.now,
            expires_at=uow.now + timedelta(seconds=ttl_seconds),
            revoked_at=None,
        )
    )
    return NewSession(cookie, SessionInfo(user, session_id, uow.rt.keys.csrf_token(cookie)))


async def access_session(uow: UnitOfWork, cookie: str | None) -> SessionInfo | None:
    """The live session a cookie value names, or None (unknown, expired or signed out)."""
    if not cookie:
        return None
    row = (
        await uow.conn.execute(
            sa.select(User, WebSession.id.label("session_id"))
            .join(WebSession, WebSession.user_id == User.id)
            .where(
                WebSession.id.in_(uow.rt.keys.token_hashes(cookie)),
                WebSession.revoked_at.is_(None),
                WebSession.expires_at > uow.now,
            )
        )
    ).first()
    if row is None:
        return None
    return SessionInfo(_info(row), row.session_id, uow.rt.keys.csrf_token(cookie))


async def end_session(uow: UnitOfWork, *, session_id: str) -> None:
    await uow.conn.execute(
        sa.update(WebSession)
        .where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=uow.now)
    )
