"""Clients that sign their own requests (Wpay's ES256 JWTs): the client (its `apiClientId`, its
account and scopes), its public keys by key id, and the token ids (`jti`) already used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base


class SigningClient(Base):
    """A client known by its `apiClientId`, acting for an account with these scopes."""

    __tablename__ = "signing_clients"
    __table_args__ = (Index("ix_signing_clients_account", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class SigningKey(Base):
    """A client's public key (EC P-256, PEM) under its key id, which is unique: a token names
    its key by `kid` alone. `thumbprint` is the key's RFC 7638 JWK thumbprint, to recognise it."""

    __tablename__ = "signing_keys"
    __table_args__ = (Index("ix_signing_keys_client", "api_client_id", "created_at"),)

    kid: Mapped[str] = mapped_column(String(100), primary_key=True)
    api_client_id: Mapped[str] = mapped_column(ForeignKey("signing_clients.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    public_key: Mapped[str] = mapped_column(Text)
    thumbprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class UsedTokenId(Base):
    """A `jti` a client has used, kept until its token could no longer pass the freshness check
    (`keep_until`); the primary key refuses a second use, across every process. The sweep
    deletes rows past `keep_until`."""

    __tablename__ = "used_token_ids"
    __table_args__ = (Index("ix_used_token_ids_keep_until", "keep_until"),)

    api_client_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    keep_until: Mapped[datetime]
