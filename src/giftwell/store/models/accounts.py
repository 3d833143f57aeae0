"""Accounts (tenants) and the access tokens that act for them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The operator runs Giftwell: it issues house products, sells them, and may hold `admin`.
    is_operator: Mapped[bool] = mapped_column(server_default=false())
    created_at: Mapped[datetime]
    # The expiry policy of the account's cards (domain.expiry_policy): both set, or neither.
    expiry_min_days: Mapped[int | None] = mapped_column(Integer)
    expiry_rule: Mapped[str | None] = mapped_column(String(200))


class AccessToken(Base):
    """A bearer token: a personal API token (kind `personal`) or an OAuth access token (kind
    `oauth`, with its `client_id` and the `family_id` of the grant it came from), one scope model.

    Only a keyed hash of the token is stored; `prefix` (the first characters) helps people tell
    their tokens apart.
    """

    __tablename__ = "access_tokens"
    __table_args__ = (
        Index("ix_access_tokens_account", "account_id", "created_at"),
        Index("ix_access_tokens_family", "family_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(String(1000))
    client_id: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    family_id: Mapped[str | None] = mapped_column(String(40))
