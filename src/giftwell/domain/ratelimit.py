"""Rates, fixed windows and client addresses: the pure arithmetic behind rate limits and the
guessing guard (the counters themselves live in `services.counters`).

Windows are fixed and aligned to the epoch (a one-minute window starts on the minute), so every
process computes the same window for the same instant and a shared store needs one counter per
key and window. A fixed window lets a client spend up to twice its rate across a boundary, but it
never lets more than `count` through in any one window: that exact bound is what the guessing
odds are computed from.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPV6_PREFIX = 64  # one IPv6 subscriber usually gets a whole /64: count the network, not the address


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` events per `seconds`-long fixed window."""

    count: int
    seconds: int

    def __post_init__(self) -> None:
        if self.count < 1 or self.seconds < 1:
            raise ValueError("a rate needs a positive count and window")

    def window_start(self, now: float) -> int:
        """Start (epoch seconds) of the window holding `now`."""
        return int(now // self.seconds) * self.seconds

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds}s"


def ip_key(address: str) -> str:
    """The counter key for a client address: the address itself for IPv4, its /64 for IPv6
    (an attacker gets a /64 for the price of one address). Anything unparsable is kept as is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """`"10.0.0.1, 10.1.0.0/16"` as networks; raises ValueError naming a bad entry."""
    nets = []
    for part in text.split(","):
        item = part.strip()
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return tuple(nets)


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(peer: str, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str:
    """The client's address: the socket peer, unless the peer is a trusted proxy, in which case
    the right-most `X-Forwarded-For` hop that is not itself a trusted proxy. Hops further left
    were written by the client and could say anything, so they are never believed."""
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer
