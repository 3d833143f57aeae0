"""Clients that sign their requests, for the tests: an EC P-256 key pair, its PEM public key, and
ES256 JWTs made with joserfc (the same library the server verifies with, on the other side of the
wire) or by hand for the attacks a library would refuse to make."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import ECKey

from giftwell.services.access import signing_keys
from giftwell.services.runtime import Runtime


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class KeyPair:
    private: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        return jwt.encode(header, claims, ECKey.import_key(self.private_pem), algorithms=["ES256"])


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A token assembled by hand (alg none, a forged signature)."""
    h = b64(json.dumps(header).encode())
    c = b64(json.dumps(claims).encode())
    return f"{h}.{c}.{b64(signature)}"


def hs256_with(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """HS256 keyed with `secret`: the algorithm confusion attack when `secret` is a public key."""
    h = b64(json.dumps(header).encode())
    c = b64(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{h}.{c}".encode(), hashlib.sha256).digest()
    return f"{h}.{c}.{b64(mac)}"


@dataclass
class SigningClient:
    """A registered client: its apiClientId, key id and key pair, and a clock to sign with."""

    api_client_id: str
    kid: str
    keys: KeyPair
    account_id: str

    def claims(self, now: datetime, **extra: Any) -> dict[str, Any]:
        return {"iat": int(now.timestamp()), "apiClientId": self.api_client_id, "jti": uuid.uuid4().hex, **extra}

    def token(self, now: datetime, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
        return self.keys.sign({"alg": "ES256", "kid": self.kid, **(header or {})}, self.claims(now, **claims))

    def bearer(self, now: datetime, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(now, **claims)}"}


async def register(
    rt: Runtime,
    account_id: str,
    *,
    scopes: list[str] | None = None,
    api_client_id: str | None = None,
    kid: str | None = None,
) -> SigningClient:
    keys = KeyPair()
    kid = kid or str(uuid.uuid4())
    async with rt.uow() as uow:
        info = await signing_keys.add_key(
            uow, account_id=account_id, kid=kid, public_key=keys.public_pem, api_client_id=api_client_id, scopes=scopes
        )
        await uow.commit()
    return SigningClient(info.api_client_id, kid, keys, account_id)
