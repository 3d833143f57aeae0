"""OAuth 2.0 clients, authorization codes and refresh tokens.

Secrets never stored in the clear: client secrets, codes and refresh tokens are kept as keyed
hashes (HMAC-SHA256). Every code and token carries a `family_id`: the one authorization it
descends from, so a replayed code or refresh token revokes everything issued from it. OAuth
access tokens live in `access_tokens` (kind `oauth`) beside personal tokens.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base, JsonType


class OAuthClient(Base):
    __tablename__ = "oauth_clients"
    __table_args__ = (Index("ix_oauth_clients_account", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(60), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str | None] = mapped_column(String(64))  # NULL: a public client
    redirect_uris: Mapped[list[str]] = mapped_column(JsonType)
    scopes: Mapped[str] = mapped_column(String(1000))
    grant_types: Mapped[str] = mapped_column(String(200))
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    secret_rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class OAuthCode(Base):
    """An authorization code: single use (`used_at` set by a guarded update), short-lived."""

    __tablename__ = "oauth_codes"
    __table_args__ = (Index("ix_oauth_codes_expires", "expires_at"),)

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    redirect_uri: Mapped[str | None] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(1000))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    family_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class RefreshToken(Base):
    """A refresh token. Rotated on every use: the used one gets `used_at`, a new one joins the
    family; presenting a used one again revokes the whole family."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    scopes: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


__all__ = ["OAuthClient", "OAuthCode", "RefreshToken"]
