"""Keys derived from the one secret: keyed hashes for lookups, authenticated encryption for codes.

Each purpose gets its own subkey (HKDF-SHA256 with the purpose as `info`), so a leak of one
derived key says nothing about the others.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import cached_property

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE = 12
_DECOY_AAD = "pin:decoy"


class Keys:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def derive(self, purpose: str, length: int = 32) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"giftwell", info=purpose.encode()).derive(
            self._secret
        )

    @cached_property
    def _code_hash_key(self) -> bytes:
        return self.derive("card-code-lookup")

    @cached_property
    def _token_hash_key(self) -> bytes:
        return self.derive("token-lookup")

    @cached_property
    def _link_key(self) -> bytes:
        return self.derive("reward-link-token")

    @cached_property
    def _link_hash_key(self) -> bytes:
        return self.derive("reward-link-lookup")

    @cached_property
    def _csrf_key(self) -> bytes:
        return self.derive("web-csrf")

    @cached_property
    def _aead(self) -> AESGCM:
        return AESGCM(self.derive("card-code-encryption"))

    @cached_property
    def _webhook_aead(self) -> AESGCM:
        return AESGCM(self.derive("webhook-secret-encryption"))

    def seal_webhook_secret(self, secret: str, *, endpoint_id: str) -> bytes:
        """A webhook endpoint's signing secret, encrypted under its own subkey (the endpoint id as
        associated data, so a ciphertext copied to another endpoint does not decrypt)."""
        nonce = os.urandom(_NONCE)
        return nonce + self._webhook_aead.encrypt(nonce, secret.encode(), f"webhook:{endpoint_id}".encode())

    def open_webhook_secret(self, blob: bytes, *, endpoint_id: str) -> str:
        return self._webhook_aead.decrypt(blob[:_NONCE], blob[_NONCE:], f"webhook:{endpoint_id}".encode()).decode()

    @cached_property
    def _supplier_aead(self) -> AESGCM:
        return AESGCM(self.derive("supplier-secret-encryption"))

    def seal_supplier_secret(self, secret: str, *, supplier_id: str, name: str) -> bytes:
        """One of an upstream supplier's credentials (client secret, refresh or access token,
        webhook secret), under its own subkey; the supplier id and the credential's name are the
        associated data, so a ciphertext moved to another supplier or column does not decrypt."""
        nonce = os.urandom(_NONCE)
        return nonce + self._supplier_aead.encrypt(nonce, secret.encode(), f"supplier:{supplier_id}:{name}".encode())

    def open_supplier_secret(self, blob: bytes, *, supplier_id: str, name: str) -> str:
        aad = f"supplier:{supplier_id}:{name}".encode()
        return self._supplier_aead.decrypt(blob[:_NONCE], blob[_NONCE:], aad).decode()

    def code_hash(self, account_id: str, normalized_code: str) -> str:
        """Keyed hash of a normalised code, scoped to the account that owns it."""
        msg = f"{account_id}:{normalized_code}".encode()
        return hmac.new(self._code_hash_key, msg, hashlib.sha256).hexdigest()

    def token_hash(self, token: str) -> str:
        return hmac.new(self._token_hash_key, token.encode(), hashlib.sha256).hexdigest()

    def link_token(self, unit_id: str) -> str:
        """The reward-link token of an order unit: 256 bits, derived (HMAC) from the unit id so it
        can be shown again without being stored; only `link_hash` of it is kept, for lookup."""
        raw = hmac.new(self._link_key, unit_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def link_hash(self, token: str) -> str:
        return hmac.new(self._link_hash_key, token.encode(), hashlib.sha256).hexdigest()

    def csrf_token(self, binding: str) -> str:
        """A CSRF token bound to a secret the browser holds in an HttpOnly cookie (the session, or
        the pre-sign-in cookie): a page can echo it, nobody without the cookie can compute it."""
        return hmac.new(self._csrf_key, binding.encode(), hashlib.sha256).hexdigest()

    def encrypt(self, plaintext: str, *, aad: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), aad.encode())

    def decrypt(self, blob: bytes, *, aad: str) -> str:
        return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], aad.encode()).decode()

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
