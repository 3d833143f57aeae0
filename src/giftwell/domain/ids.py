"""Prefixed, time-ordered identifiers (`card_01J...`, `trf_01J...`).

A ULID-like body: 48 bits of milliseconds then 80 random bits, in Crockford base32, so ids sort
by creation time and cursors can page on them.
"""

from __future__ import annotations

import base64
import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# base64's base32 alphabet, digit for digit onto Crockford's: encoding is then one C call.
_FROM_RFC4648 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _CROCKFORD)


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10))
    # 130 bits in the low end of 160 (20 bytes = 32 base32 digits): the last 26 digits are they.
    body = base64.b32encode(value.to_bytes(20)).decode()[6:].translate(_FROM_RFC4648)
    return f"{prefix}_{body}"
