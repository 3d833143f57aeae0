"""The team of an account: its users and their roles, invitations by email with a one-time link,
removal, and password resets by email.

Who may do what (checked here, whatever surface asks): owners and admins manage the team; only
an owner may invite or make an owner, or act on one; nobody removes or demotes themselves, so an
account always keeps the owner who is acting.

A link is `/invite/<token>` (join the account, choosing a password) or `/reset/<token>` (choose a
new password): 256 random bits, kept as a keyed hash for the lookup and as AES-GCM ciphertext for
the job that emails it (`team.link.send`, written in the same transaction: a crash delays the
email, never loses it). A link works once (a guarded update on `used_at`), for
`LINK_TTL` at most; a new invitation to the same address revokes the older ones.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa

from giftwell.domain.access import check_role
from giftwell.domain.contacts import check_email
from giftwell.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.domain.users import check_password
from giftwell.services import audit
from giftwell.services.access import users
from giftwell.services.access.accounts import get_account
from giftwell.services.queue import jobs
from giftwell.services.runtime import Runtime
from giftwell.store.models import OAuthCode, RefreshToken, User, UserLink, WebSession
from giftwell.store.uow import UnitOfWork

LINK_TTL = timedelta(days=7)
SEND_JOB = "team.link.send"
INVITE, RESET = "invite", "reset"
MANAGERS = frozenset({"owner", "admin"})


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    email: str
    role: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Pending:
    id: str
    email: str
    role: str | None
    created_at: datetime
    expires_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class Link:
    """What a one-time link is for, as its page shows it."""

    id: str
    purpose: str
    email: str
    role: str | None
    account_name: str


def _require_manager(actor: users.UserInfo, *, touches_owner: bool = False) -> None:
    if actor.role not in MANAGERS:
        raise Forbidden("only owners and admins manage the team", param="role")
    if touches_owner and actor.role != "owner":
        raise Forbidden("only an owner can invite, change or remove an owner", param="role")


async def members(uow: UnitOfWork, *, account_id: str) -> list[Member]:
    rows = await uow.conn.execute(
        sa.select(User).where(User.account_id == account_id).order_by(User.created_at, User.id)
    )
    return [Member(r.id, r.email, r.role, r.created_at) for r in rows]


async def pending(uow: UnitOfWork, *, account_id: str) -> list[Pending]:
    rows = await uow.conn.execute(
        sa.select(UserLink)
        .where(
            UserLink.account_id == account_id,
            UserLink.purpose == INVITE,
            UserLink.used_at.is_(None),
            UserLink.revoked_at.is_(None),
            UserLink.expires_at > uow.now,
        )
        .order_by(UserLink.created_at.desc())
    )
    return [Pending(r.id, r.email, r.role, r.created_at, r.expires_at, r.sent_at) for r in rows]


async def _member(uow: UnitOfWork, account_id: str, user_id: str) -> Any:
    row = (await uow.conn.execute(sa.select(User).where(User.id == user_id, User.account_id == account_id))).first()
    if row is None:
        raise NotFound("no such user", param="user")
    return row


async def _link(
    uow: UnitOfWork, *, account_id: str, purpose: str, email: str, role: str | None, user_id: str | None, by: str
) -> str:
    token = secrets.token_urlsafe(32)
    link_id = new_id("ulk")
    keys = uow.rt.keys
    await uow.conn.execute(
        sa.insert(UserLink).values(
            id=link_id,
            account_id=account_id,
            purpose=purpose,
            email=email,
            role=role,
            user_id=user_id,
            token_hash=keys.token_hash(token),
            token_encrypted=keys.encrypt(token, aad=f"user-link:{link_id}"),
            created_by=by,
            created_at=uow.now,
            expires_at=uow.now + LINK_TTL,
        )
    )
    await jobs.enqueue(uow, SEND_JOB, {"link_id": link_id}, dedupe_key=f"{SEND_JOB}:{link_id}", account_id=account_id)
    return link_id


async def invite(uow: UnitOfWork, *, actor: users.UserInfo, email: str, role: str) -> str:
    """Invite `email` to the actor's account with `role`; the link is emailed by a job."""
    check_role(role)
    _require_manager(actor, touches_owner=role == "owner")
    email = check_email(email)
    taken = (await uow.conn.execute(sa.select(User.id).where(User.email == email))).first()
    if taken is not None:
        raise Conflict("a user with this email already exists", param="email")
    await uow.conn.execute(
        sa.update(UserLink)
        .where(
            UserLink.account_id == actor.account_id,
            UserLink.email == email,
            UserLink.purpose == INVITE,
            UserLink.used_at.is_(None),
            UserLink.revoked_at.is_(None),
        )
        .values(revoked_at=uow.now)
    )
    link_id = await _link(
        uow, account_id=actor.account_id, purpose=INVITE, email=email, role=role, user_id=None, by=actor.id
    )
    await audit.record(
        uow,
        "user.invited",
        target=("user_link", link_id),
        account_id=actor.account_id,
        changes={"email": email, "role": role},
    )
    return link_id


async def reset_password(uow: UnitOfWork, *, actor: users.UserInfo, user_id: str) -> str:
    """Email `user_id` a link to choose a new password (their sessions end when it is used)."""
    row = await _member(uow, actor.account_id, user_id)
    _require_manager(actor, touches_owner=row.role == "owner" and row.id != actor.id)
    link_id = await _link(
        uow, account_id=actor.account_id, purpose=RESET, email=row.email, role=None, user_id=row.id, by=actor.id
    )
    await audit.record(
        uow,
        "user.password_reset_sent",
        target=("user", row.id),
        account_id=actor.account_id,
        changes={"email": row.email},
    )
    return link_id


async def change_role(uow: UnitOfWork, *, actor: users.UserInfo, user_id: str, role: str) -> None:
    check_role(role)
    row = await _member(uow, actor.account_id, user_id)
    _require_manager(actor, touches_owner=role == "owner" or row.role == "owner")
    if row.id == actor.id:
        raise ValidationFailed("you cannot change your own role", param="user")
    if row.role != role:
        await uow.conn.execute(sa.update(User).where(User.id == row.id).values(role=role))
        await audit.record(
            uow,
            "user.role_changed",
            target=("user", row.id),
            account_id=actor.account_id,
            changes={"role": [row.role, role]},
        )


async def remove(uow: UnitOfWork, *, actor: users.UserInfo, user_id: str) -> None:
    """Remove a user from the account: their sessions and pending sign-in codes go, their
    refresh tokens are revoked (and forget them), then the user."""
    row = await _member(uow, actor.account_id, user_id)
    _require_manager(actor, touches_owner=row.role == "owner")
    if row.id == actor.id:
        raise ValidationFailed("you cannot remove yourself", param="user")
    await uow.conn.execute(sa.delete(WebSession).where(WebSession.user_id == row.id))
    await uow.conn.execute(sa.delete(OAuthCode).where(OAuthCode.user_id == row.id))
    await uow.conn.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.user_id == row.id)
        .values(user_id=None, revoked_at=sa.func.coalesce(RefreshToken.revoked_at, uow.now))
    )
    await uow.conn.execute(sa.delete(UserLink).where(UserLink.user_id == row.id))
    await uow.conn.execute(sa.delete(User).where(User.id == row.id))
    await audit.record(
        uow,
        "user.removed",
        target=("user", row.id),
        account_id=actor.account_id,
        changes={"email": row.email, "role": row.role},
    )


async def _live(uow: UnitOfWork, token: str) -> Any:
    row = (
        await uow.conn.execute(sa.select(UserLink).where(UserLink.token_hash == uow.rt.keys.token_hash(token or "")))
    ).first()
    if row is None or row.used_at is not None or row.revoked_at is not None or row.expires_at <= uow.now:
        # One message for unknown, used, revoked and expired links: a guesser learns nothing.
        raise NotFound("this link is not valid (used, expired or unknown)", param="token")
    return row


async def access_link(uow: UnitOfWork, token: str) -> Link:
    row = await _live(uow, token)
    acct = await get_account(uow, row.account_id)
    return Link(row.id, row.purpose, row.email, row.role, acct.name)


async def accept(uow: UnitOfWork, *, token: str, password: str) -> users.UserInfo:
    """Use a link: an invitation creates the user with the invited role; a reset sets the new
    password and ends the user's sessions. Either way the link is spent (guarded: once)."""
    row = await _live(uow, token)
    check_password(password)
    spent = await uow.conn.execute(
        sa.update(UserLink).where(UserLink.id == row.id, UserLink.used_at.is_(None)).values(used_at=uow.now)
    )
    if spent.rowcount != 1:
        raise NotFound("this link is not valid (used, expired or unknown)", param="token")
    if row.purpose == INVITE:
        return await users.create_user(
            uow, account_id=row.account_id, email=row.email, password=password, role=row.role
        )
    user = await users.user_by_id(uow, row.user_id)
    await uow.conn.execute(
        sa.update(User)
        .where(User.id == user.id)
        .values(password_hash=await users.hash_password(password), failed_logins=0, locked_until=None)
    )
    await uow.conn.execute(
        sa.update(WebSession)
        .where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
        .values(revoked_at=uow.now)
    )
    # The actor is whoever holds the link (nobody is signed in): the user, by their own link.
    await audit.record(uow, "user.password_reset", target=("user", user.id), account_id=user.account_id)
    return user


def _message(rt: Runtime, row: Any, token: str, account_name: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = rt.settings.mail_from
    msg["To"] = row.email
    base = rt.settings.base_url
    if row.purpose == INVITE:
        msg["Subject"] = f"You are invited to {account_name} on Giftwell"
        text = (
            f"You are invited to join {account_name} on Giftwell as {row.role}.\n\n"
            f"Choose your password here (the link works once, for {LINK_TTL.days} days):\n{base}/invite/{token}\n"
        )
    else:
        msg["Subject"] = "Reset your Giftwell password"
        text = (
            "Someone on your team asked Giftwell to reset your password.\n\n"
            f"Choose a new one here (the link works once, for {LINK_TTL.days} days):\n{base}/reset/{token}\n\n"
            "If you did not expect this, ignore this message: your password stays as it is.\n"
        )
    msg.set_content(text)
    return msg


async def send_link(rt: Runtime, link_id: str) -> bool:
    """The job's work: email a link that is still live. No transaction is held while sending;
    `sent_at` is recorded after. At least once: a crash between the two sends it again."""
    async with rt.reader() as uow:
        row = (await uow.conn.execute(sa.select(UserLink).where(UserLink.id == link_id))).first()
        if row is None or row.used_at is not None or row.revoked_at is not None or row.expires_at <= uow.now:
            return False
        account_name = (await get_account(uow, row.account_id)).name
    token = rt.keys.decrypt(row.token_encrypted, aad=f"user-link:{link_id}")
    await rt.mailer.send(_message(rt, row, token, account_name), delivery_id=link_id)
    await rt.transact(
        lambda uow: uow.conn.execute(sa.update(UserLink).where(UserLink.id == link_id).values(sent_at=uow.now))
    )
    return True
