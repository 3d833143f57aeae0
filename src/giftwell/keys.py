"""Keys derived from versioned secrets: keyed hashes for lookups, authenticated encryption for
what must be shown again (codes, PINs, reward-link tokens, webhook secrets, stored idempotent
responses, and any credential a feature keeps: `seal` and `open`).

**Versions.** A keyring holds the current secret (`GIFTWELL_SECRET_KEY`, or the highest version of
a key file) and any previous ones (`GIFTWELL_SECRET_KEY_PREVIOUS`, or the file's lower versions).
Each secret's *key id* is 4 bytes derived from it, so nothing needs numbering to agree.

- Encryption always uses the current secret and writes its key id in front of the ciphertext:
  `0xA7 | key id (4) | nonce (12) | AES-GCM ciphertext`. Decryption picks the secret by that id;
  a blob written before versions existed (`nonce | ciphertext`) is tried under every secret.
  `giftwell keys rotate` re-encrypts every blob not under the current key (`is_current`).
- Lookups by keyed hash (codes, tokens, reward links) compute the hash under every secret
  (`*_hashes`, current first) and match any, so what was hashed under a previous secret is still
  found; `keys rotate` re-hashes card codes and reward-link tokens (it can read them back), and
  bearer tokens (API and OAuth tokens, sessions) stay findable while their secret is configured.

Each purpose gets its own subkey (HKDF-SHA256 with the purpose as `info`), so a leak of one
derived key says nothing about the others.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence
from functools import cached_property

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE = 12
_MAGIC = b"\xa7"
_KID = 4
_HEADER = len(_MAGIC) + _KID
_DECOY_AAD = "pin:decoy"
CODES = "card-code-encryption"
WEBHOOKS = "webhook-secret-encryption"
SUPPLIERS = "supplier-secret-encryption"


class Version:
    """One secret of the keyring and the subkeys derived from it."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self.kid = self.derive("key-id", _KID)
        self._aeads: dict[str, AESGCM] = {}

    def derive(self, purpose: str, length: int = 32) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"giftwell", info=purpose.encode()).derive(
            self._secret
        )

    def aead(self, purpose: str) -> AESGCM:
        found = self._aeads.get(purpose)
        if found is None:
            found = self._aeads[purpose] = AESGCM(self.derive(purpose))
        return found

    @cached_property
    def code_hash_key(self) -> bytes:
        return self.derive("card-code-lookup")

    @cached_property
    def token_hash_key(self) -> bytes:
        return self.derive("token-lookup")

    @cached_property
    def link_key(self) -> bytes:
        return self.derive("reward-link-token")

    @cached_property
    def link_hash_key(self) -> bytes:
        return self.derive("reward-link-lookup")

    @cached_property
    def csrf_key(self) -> bytes:
        return self.derive("web-csrf")


def _mac(key: bytes, msg: str) -> str:
    return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()


class Keys:
    """The keyring: `secret` is current, `previous` (newest first) are still read."""

    def __init__(self, secret: str, previous: Sequence[str] = ()) -> None:
        self._current = Version(secret)
        ring = [self._current]
        for p in previous:
            v = Version(p)
            if all(v.kid != o.kid for o in ring):
                ring.append(v)
        self._ring = tuple(ring)
        self._by_kid = {v.kid: v for v in ring}

    # -- the keyring -----------------------------------------------------------------------------

    @property
    def current_kid(self) -> str:
        return self._current.kid.hex()

    @property
    def kids(self) -> tuple[str, ...]:
        """Every configured key id, current first."""
        return tuple(v.kid.hex() for v in self._ring)

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """A subkey of the current secret for `purpose`."""
        return self._current.derive(purpose, length)

    def key_id_of(self, blob: bytes) -> str | None:
        """The key id written in front of a ciphertext; None for one written before versions."""
        if len(blob) > _HEADER + _NONCE and blob[:1] == _MAGIC:
            return blob[1:_HEADER].hex()
        return None

    def is_current(self, blob: bytes | None) -> bool:
        """Whether `blob` is encrypted under the current secret (None: nothing to rotate)."""
        return blob is None or self.key_id_of(blob) == self.current_kid

    # -- encryption --------------------------------------------------------------------------------

    def seal(self, purpose: str, plaintext: str, *, aad: str) -> bytes:
        """Encrypt under the current secret's subkey for `purpose`, bound to `aad` (the row it
        belongs to: a ciphertext copied to another row does not decrypt)."""
        nonce = os.urandom(_NONCE)
        ct = self._current.aead(purpose).encrypt(nonce, plaintext.encode(), aad.encode())
        return _MAGIC + self._current.kid + nonce + ct

    def open(self, purpose: str, blob: bytes, *, aad: str) -> str:
        """Decrypt a `seal`ed blob, under whichever configured secret wrote it. Raises
        `cryptography.exceptions.InvalidTag` when none does (the secret is not configured)."""
        raw = bytes(blob)
        if len(raw) > _HEADER + _NONCE and raw[:1] == _MAGIC:
            v = self._by_kid.get(raw[1:_HEADER])
            if v is not None:
                try:
                    return (
                        v.aead(purpose)
                        .decrypt(raw[_HEADER : _HEADER + _NONCE], raw[_HEADER + _NONCE :], aad.encode())
                        .decode()
                    )
                except InvalidTag:
                    pass  # a blob from before versions whose random nonce began like a header
        for v in self._ring:
            try:
                return v.aead(purpose).decrypt(raw[:_NONCE], raw[_NONCE:], aad.encode()).decode()
            except InvalidTag:
                continue
        raise InvalidTag()

    def encrypt(self, plaintext: str, *, aad: str) -> bytes:
        return self.seal(CODES, plaintext, aad=aad)

    def decrypt(self, blob: bytes, *, aad: str) -> str:
        return self.open(CODES, blob, aad=aad)

    def seal_webhook_secret(self, secret: str, *, endpoint_id: str) -> bytes:
        """A webhook endpoint's signing secret, encrypted under its own subkey (the endpoint id as
        associated data, so a ciphertext copied to another endpoint does not decrypt)."""
        return self.seal(WEBHOOKS, secret, aad=f"webhook:{endpoint_id}")

    def open_webhook_secret(self, blob: bytes, *, endpoint_id: str) -> str:
        return self.open(WEBHOOKS, blob, aad=f"webhook:{endpoint_id}")

    # -- keyed hashes -------------------------------------------------------------------------------

    def seal_supplier_secret(self, secret: str, *, supplier_id: str, name: str) -> bytes:
        """One of an upstream supplier's credentials (client secret, refresh or access token,
        webhook secret), under its own subkey; the supplier id and the credential's name are the
        associated data, so a ciphertext moved to another supplier or column does not decrypt."""
        return self.seal(SUPPLIERS, secret, aad=f"supplier:{supplier_id}:{name}")

    def open_supplier_secret(self, blob: bytes, *, supplier_id: str, name: str) -> str:
        return self.open(SUPPLIERS, blob, aad=f"supplier:{supplier_id}:{name}")

    def code_hash(self, account_id: str, normalized_code: str) -> str:
        """Keyed hash of a normalised code, scoped to the account that owns it (current secret)."""
        return _mac(self._current.code_hash_key, f"{account_id}:{normalized_code}")

    def code_hashes(self, account_id: str, normalized_code: str) -> tuple[str, ...]:
        """`code_hash` under every configured secret, current first: what a lookup matches."""
        return tuple(_mac(v.code_hash_key, f"{account_id}:{normalized_code}") for v in self._ring)

    def token_hash(self, token: str) -> str:
        return _mac(self._current.token_hash_key, token)

    def token_hashes(self, token: str) -> tuple[str, ...]:
        return tuple(_mac(v.token_hash_key, token) for v in self._ring)

    def link_token(self, unit_id: str) -> str:
        """The reward-link token of an order unit: 256 bits, derived (HMAC) from the unit id so it
        can be shown again without being stored; only `link_hash` of it is kept, for lookup."""
        return self._link_token(self._current, unit_id)

    def link_token_matching(self, unit_id: str, stored_hash: str) -> str | None:
        """The unit's token under whichever configured secret made `stored_hash` (None if none)."""
        for v in self._ring:
            token = self._link_token(v, unit_id)
            if hmac.compare_digest(_mac(v.link_hash_key, token), stored_hash):
                return token
        return None

    @staticmethod
    def _link_token(v: Version, unit_id: str) -> str:
        raw = hmac.new(v.link_key, unit_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def link_hash(self, token: str) -> str:
        return _mac(self._current.link_hash_key, token)

    def link_hashes(self, token: str) -> tuple[str, ...]:
        return tuple(_mac(v.link_hash_key, token) for v in self._ring)

    def csrf_token(self, binding: str) -> str:
        """A CSRF token bound to a secret the browser holds in an HttpOnly cookie (the session, or
        the pre-sign-in cookie): a page can echo it, nobody without the cookie can compute it."""
        return _mac(self._current.csrf_key, binding)

    # -- PINs ---------------------------------------------------------------------------------------

    @cached_property
    def _decoy_pin(self) -> bytes:
        return self.encrypt("0000", aad=_DECOY_AAD)

    def pin_matches(self, blob: bytes | None, *, aad: str, given: str | None) -> bool:
        """Whether `given` is the PIN encrypted in `blob`; True when there is no PIN to match.

        The work is the same whatever the case (one decryption, one constant-time comparison):
        with no stored PIN a decoy is decrypted, so the time taken does not tell a guesser
        whether a card exists or has a PIN.
        """
        stored = self.decrypt(
            blob if blob is not None else self._decoy_pin, aad=aad if blob is not None else _DECOY_AAD
        )
        same = hmac.compare_digest(stored.encode(), (given or "").encode())
        return blob is None or (given is not None and same)
