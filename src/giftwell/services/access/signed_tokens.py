"""Authenticating a request signed by its client: `Authorization: Bearer <JWT>`, an ES256 JWS
whose header names the key (`kid`) and whose claims carry `iat`, `apiClientId` and optionally
`exp` and `jti` (rules in `domain/signing.py`).

The signature is checked by joserfc, never by hand, with ES256 as the only algorithm allowed:
`alg: none`, HS256 (with the public key as its secret, the classic confusion) or any other
algorithm is refused before a key is even looked up. The key is found by `kid` alone, and the
claims are read only once the signature has been verified with it, so `apiClientId` is trusted
only as far as the key's owner signed it. A `jti` is recorded in its own short transaction, by
an insert on a unique key, so a replay is refused whichever process it reaches.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from sqlalchemy.exc import IntegrityError

from giftwell.domain.access import Principal
from giftwell.domain.errors import NotFound
from giftwell.domain.signing import ALGORITHM, MAX_TOKEN, CheckedClaims, check_claims, invalid_token, unknown_key
from giftwell.services.access.signing_keys import SigningKeyInfo, get_key
from giftwell.services.runtime import Runtime
from giftwell.store.models import UsedTokenId

PRINCIPAL_PREFIX = "jwt:"


def _parse(token: str) -> jws.CompactSignature:
    if len(token) > MAX_TOKEN:
        raise invalid_token("the token is too long")
    try:
        obj = jws.extract_compact(token.encode("ascii"))
    except (JoseError, ValueError):
        raise invalid_token("the bearer token is not a compact JWS") from None
    alg = obj.headers().get("alg")
    if alg != ALGORITHM:
        raise invalid_token(f"the token's alg must be {ALGORITHM}, not {alg!r}")
    return obj


def _verified_claims(obj: jws.CompactSignature, key: SigningKeyInfo) -> dict[str, Any]:
    try:
        ok = jws.validate_compact(obj, ECKey.import_key(key.public_key), algorithms=[ALGORITHM])
    except JoseError:
        ok = False
    if not ok:
        raise invalid_token("the token's signature does not verify with the key of its kid")
    try:
        claims = json.loads(obj.payload or b"")
    except ValueError:
        claims = None
    if not isinstance(claims, dict):
        raise invalid_token("the token's payload is not a JSON object")
    return claims


async def _use_once(rt: Runtime, checked: CheckedClaims) -> None:
    assert checked.jti is not None
    try:
        async with rt.uow() as uow:
            await uow.conn.execute(
                sa.insert(UsedTokenId).values(
                    api_client_id=checked.api_client_id, jti=checked.jti, keep_until=checked.keep_until
                )
            )
            await uow.commit()
    except IntegrityError:
        raise invalid_token("this token's jti has been used already") from None


async def authenticate(rt: Runtime, token: str | None) -> Principal:
    """The principal a signed token acts as: the key's account, with its client's scopes. Raises
    `Unauthenticated` with `reason` `unknown_key` or `invalid_token` (domain/signing.py)."""
    if not token:
        raise unknown_key("missing bearer token: send Authorization: Bearer <JWT>")
    obj = _parse(token)
    kid = obj.headers().get("kid")
    if not isinstance(kid, str) or not kid:
        raise unknown_key("the token's header has no kid")
    async with rt.reader() as uow:
        try:
            key = await get_key(uow, kid)
        except NotFound:
            raise unknown_key() from None
    if not key.active:
        raise unknown_key()
    checked = check_claims(_verified_claims(obj, key), api_client_id=key.api_client_id, now=rt.clock())
    if checked.jti is not None:
        await _use_once(rt, checked)
    return Principal(key.account_id, PRINCIPAL_PREFIX + key.api_client_id, frozenset(key.scopes))
