"""Requests signed by the client (Wpay's model): the client keeps an EC P-256 private key, gives
Giftwell the public key under a key id (`kid`), and signs a short-lived JWT (ES256) for each
request. Pure rules: what a key id, a key's scopes and a token's claims must be. The signature
itself is checked by a JOSE library in `services/access/signed_tokens.py`.

Claims: `iat` is required, at most `MAX_AGE` old and at most `MAX_SKEW` in the future (clocks
differ); `exp`, when present, is honoured (a token at or past it is refused); `apiClientId` must
name the client that owns the key; `jti`, when present, may be used once: it is remembered until
the token could no longer pass the `iat` check (`keep_until`), so a replay inside the window is
refused and nothing needs to be remembered after it.

Two kinds of refusal, which a vendor dialect words its own way: `reason="unknown_key"` (no such
key or client, a revoked one, a key of another client: the caller is not known) and
`reason="invalid_token"` (the caller is known but this token is not acceptable: bad signature,
wrong algorithm, stale, future, expired, replayed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from giftwell.domain.errors import Unauthenticated, ValidationFailed

ALGORITHM = "ES256"
MAX_AGE = timedelta(minutes=5)
MAX_SKEW = timedelta(seconds=60)
# Keys a client may have active at once: the current one and its successor during a rotation.
MAX_ACTIVE_KEYS = 2
MAX_JTI = 200
MAX_TOKEN = 8192
UNKNOWN_KEY = "unknown_key"
INVALID_TOKEN = "invalid_token"  # noqa: S105 - a reason code, not a secret
DEFAULT_SCOPES = ("orders:read", "orders:write", "products:read")

# Case-sensitive, as the vendor says; printable and without spaces, so it fits a header and a log.
_KID = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")


def check_kid(kid: Any, *, param: str = "kid") -> str:
    if not isinstance(kid, str) or not _KID.match(kid):
        raise ValidationFailed(
            "kid must be 1 to 100 characters of letters, digits and . _ : - (a UUID is usual)", param=param
        )
    return kid


def unknown_key(message: str = "no active key with this kid for this apiClientId") -> Unauthenticated:
    return Unauthenticated(message, reason=UNKNOWN_KEY)


def invalid_token(message: str) -> Unauthenticated:
    return Unauthenticated(message, reason=INVALID_TOKEN)


@dataclass(frozen=True, slots=True)
class CheckedClaims:
    api_client_id: str
    jti: str | None
    issued_at: datetime
    # Until when the `jti` must be remembered: after it, the token fails the `iat` check anyway.
    keep_until: datetime


def _time(claims: dict[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not -1e11 < value < 1e11:
        raise invalid_token(f"{name} must be a NumericDate (seconds since the epoch)")
    return datetime.fromtimestamp(value, UTC)


def check_claims(claims: dict[str, Any], *, api_client_id: str, now: datetime) -> CheckedClaims:
    """The claims of a token whose signature was verified with a key of `api_client_id`, checked
    against `now`; raises `Unauthenticated` with the reason (see the module docstring)."""
    claimed = claims.get("apiClientId")
    if not isinstance(claimed, str) or not claimed:
        raise unknown_key("the token has no apiClientId claim")
    if claimed != api_client_id:
        raise unknown_key("the key of this kid does not belong to this apiClientId")
    iat = _time(claims, "iat")
    if iat is None:
        raise invalid_token("the token has no iat claim")
    if iat > now + MAX_SKEW:
        raise invalid_token("the token was issued in the future (iat)")
    if iat < now - MAX_AGE:
        raise invalid_token("the token is too old (iat more than 5 minutes ago)")
    exp = _time(claims, "exp")
    if exp is not None and exp <= now:
        raise invalid_token("the token has expired (exp)")
    nbf = _time(claims, "nbf")
    if nbf is not None and nbf > now + MAX_SKEW:
        raise invalid_token("the token is not valid yet (nbf)")
    jti = claims.get("jti")
    if jti is not None and (not isinstance(jti, str) or not 1 <= len(jti) <= MAX_JTI or not jti.isprintable()):
        raise invalid_token(f"jti must be a string of 1 to {MAX_JTI} printable characters")
    return CheckedClaims(claimed, jti, iat, iat + MAX_AGE)
