"""Webhook rules: the event types an endpoint may subscribe to, formats, secrets and signatures,
the retry schedule, Retry-After, and which destinations are refused. Pure: no I/O.

Signing follows both conventions a receiver may check (docs/webhooks.md):

- `X-Signature` (WizzGift, seed 000): hex HMAC-SHA256 of the body, keyed with the secret *string*
  exactly as shown to the user (`whsec_...`, as the seed passes it to `createHmac`).
- Standard Webhooks 1.0: `webhook-id`, `webhook-timestamp` (Unix seconds) and
  `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
  secret's *decoded bytes* (the base64 after `whsec_`), space-separated when several secrets
  are live (a rotation's overlap).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import urlsplit

from giftwell.domain import jsjson
from giftwell.domain.errors import ValidationFailed

# Every event an endpoint may subscribe to. Other events in the `events` table (order.created,
# order.codes_revealed, funding.added, product.*) are an audit trail only and are never sent.
EVENT_TYPES: dict[str, str] = {
    "order.completed": "Every card of an order was issued",
    "order.failed": "No card of an order could be issued",
    "order.partial": "Some cards of an order were issued, others failed",
    "card.created": "A card was issued",
    "card.activated": "A card was activated with a value",
    "card.redeemed": "Value was redeemed (or held) from a card",
    "card.reloaded": "Value was added to a card",
    "card.blocked": "A card was blocked",
    "card.unblocked": "A card was unblocked",
    "card.disabled": "A card was disabled for good",
    "card.expired": "A card reached its expiry; its balance went to breakage",
    "hold.expired": "A hold was not captured in time and was released",
    "delivery.sent": "A card's email or SMS was sent",
    "delivery.failed": "A card's email or SMS could not be sent",
    "reward.picked": "A recipient picked a card with (part of) a choice reward link's value",
    "reward.expired": "A choice reward link expired; what was left went to the buyer's breakage",
    "webhook_endpoint.disabled": "One of the account's webhook endpoints was disabled (410 Gone, or failing for days)",
}
ALL = "*"
ORDER_RESULTS = ("order.completed", "order.failed", "order.partial")


class Format(StrEnum):
    """`native`: `{id, type, created_at, data}`. `wizzgift`: the seed's order body, for the
    order results only."""

    NATIVE = "native"
    WIZZGIFT = "wizzgift"


FORMAT_EVENTS: dict[Format, tuple[str, ...]] = {Format.NATIVE: tuple(EVENT_TYPES), Format.WIZZGIFT: ORDER_RESULTS}

# Standard Webhooks' schedule: the first attempt at once, then each retry this long after the
# attempt before it (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h): ten attempts over
# about three days.
SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
MAX_ATTEMPTS = len(SCHEDULE)
# Each delay is moved by up to this fraction either way, so endpoints that failed together (one
# outage) are not all retried at the same instant.
JITTER = 0.1
# A Retry-After further away than this is not waited for longer.
MAX_RETRY_AFTER = 86400.0
MIN_RETRY_DELAY = 1.0
RETRY_AFTER_STATUSES = frozenset({429, 503})

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32
MAX_URL_LENGTH = 2000


class DeliveryStatus(StrEnum):
    """pending (an attempt is due) -> succeeded | failed (no tries left, 410, endpoint off)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def check_events(events: Sequence[str], fmt: Format) -> tuple[str, ...]:
    """The subscription as stored: `("*",)` or known types without duplicates."""
    if not events:
        raise ValidationFailed("subscribe to at least one event type, or to '*'", param="events")
    if ALL in events:
        if len(set(events)) > 1:
            raise ValidationFailed("'*' stands alone: it already means every event type", param="events")
        return (ALL,)
    allowed = FORMAT_EVENTS[fmt]
    for i, e in enumerate(events):
        if e not in EVENT_TYPES:
            raise ValidationFailed(f"unknown event type {e!r}", param=f"events[{i}]")
        if e not in allowed:
            raise ValidationFailed(
                f"the {fmt.value} format carries only {', '.join(allowed)}", param=f"events[{i}]", format=fmt.value
            )
    return tuple(dict.fromkeys(events))


def subscribed(events: Iterable[str], fmt: str, event_type: str) -> bool:
    """Whether an endpoint with this subscription and format receives `event_type`."""
    allowed = FORMAT_EVENTS.get(Format(fmt), ())
    if event_type not in allowed:
        return False
    events = tuple(events)
    return ALL in events or event_type in events


# -- secrets and signatures ---------------------------------------------------------------------


def new_secret() -> str:
    """`whsec_` + standard base64 of 32 random bytes (the Standard Webhooks secret format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The bytes Standard Webhooks signs with: the base64 after the prefix, decoded."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a webhook secret") from None


def x_signature(secret: str, body: bytes) -> str:
    """WizzGift's `X-Signature`: hex HMAC-SHA256 of the body keyed with the secret string."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def x_signature_valid(secret: str, body: bytes, signature: str) -> bool:
    """Whether `signature` is the body's `X-Signature`, checked as the seed's receiver checks it:
    over `JSON.stringify(JSON.parse(body))` (`jsjson.dumps`), and over the body as received (the
    same bytes when the sender wrote it as JavaScript would, as we do). Constant-time."""
    candidates = [body]
    with contextlib.suppress(ValueError, RecursionError):
        candidates.append(jsjson.dumps(json.loads(body)))
    given = signature.strip().lower().encode()
    return any(hmac.compare_digest(x_signature(secret, c).encode(), given) for c in candidates)


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One Standard Webhooks signature, `v1,<base64>`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers for a body signed with each live secret, newest first.

    `X-Signature` can hold one value (the seed compares it whole), so it carries the newest
    secret's; during a rotation's overlap `X-Signature-Previous` carries the old one's.
    `webhook-signature` lists one signature per secret, as the spec allows.
    """
    if not secrets_:
        raise ValueError("no secret to sign with")
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(standard_signature(s, msg_id, timestamp, body) for s in secrets_),
        "X-Signature": x_signature(secrets_[0], body),
    }
    if len(secrets_) > 1:
        headers["X-Signature-Previous"] = x_signature(secrets_[1], body)
    return headers


# -- the schedule -------------------------------------------------------------------------------


def retry_delay(attempt: int, rand: float) -> float | None:
    """Seconds to wait after failed attempt `attempt` (1-based), jittered by `rand` in [0, 1);
    None when that was the last attempt."""
    if attempt >= MAX_ATTEMPTS:
        return None
    base = SCHEDULE[attempt]
    return max(MIN_RETRY_DELAY, base * (1 + JITTER * (2 * rand - 1)))


def retry_after(value: str | None, now: datetime) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from `now`, capped; None when
    absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - now).total_seconds()
    return min(MAX_RETRY_AFTER, max(MIN_RETRY_DELAY, seconds))


# -- destinations -------------------------------------------------------------------------------

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_private(address: Address) -> bool:
    """Loopback, private, link-local, shared, reserved, multicast or unspecified: anything that is
    not a public unicast address (an IPv4-mapped IPv6 address is judged as its IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def check_url(url: str, *, allow_private: bool) -> str:
    """An endpoint URL: absolute http(s) with a host, no credentials in it; https unless private
    destinations are allowed (the embedded default, tests); a literal address must be public
    unless they are. Host names are resolved and checked again at each delivery."""
    if len(url) > MAX_URL_LENGTH:
        raise ValidationFailed(f"url is longer than {MAX_URL_LENGTH} characters", param="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationFailed("url is not a valid URL", param="url") from None
    del port  # parsed only to refuse a bad one
    allowed_schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed_schemes:
        raise ValidationFailed(f"url must use {' or '.join(allowed_schemes)}", param="url")
    if not parts.hostname:
        raise ValidationFailed("url must name a host", param="url")
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed("url must not carry credentials; verify the signature instead", param="url")
    if parts.fragment:
        raise ValidationFailed("url must not have a fragment", param="url")
    try:
        literal: Address | None = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if literal is not None and not allow_private and is_private(literal):
        raise ValidationFailed("url points to a private, loopback or link-local address", param="url")
    if not allow_private and parts.hostname.lower().rstrip(".") in ("localhost", "localhost.localdomain"):
        raise ValidationFailed("url points to a private, loopback or link-local address", param="url")
    return url
