"""Users (people who sign in to the dashboard) and their web sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base


class User(Base):
    """A person in an account. `email` is stored lowercased; `password_hash` is argon2id."""

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_account", "account_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    failed_logins: Mapped[int] = mapped_column(Integer, server_default="0")
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]


class WebSession(Base):
    """A signed-in browser. `id` is the keyed hash of the cookie value, never the value itself;
    the CSRF token is derived from the cookie value, so it is not stored either."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class UserLink(Base):
    """A one-time link emailed to a person: an invitation to join an account with a role
    (`purpose` invite), or a password reset for a user (`purpose` reset). The token is a bearer
    secret: a keyed hash for the lookup and AES-GCM ciphertext (the link's id as associated data)
    for the job that emails it, never in the clear. Used once (`used_at`, a guarded update)."""

    __tablename__ = "user_links"
    __table_args__ = (Index("ix_user_links_account", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    purpose: Mapped[str] = mapped_column(String(10))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(20))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
