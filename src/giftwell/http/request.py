"""The runtime a request runs against, and the caller's address."""

from __future__ import annotations

from fastapi import Request

from giftwell.domain.ratelimit import client_address
from giftwell.services.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def client_ip(request: Request) -> str:
    """The caller's address: the socket peer, or what a trusted proxy says it forwarded."""
    rt = get_runtime(request)
    peer = request.client.host if request.client else ""
    if not rt.trusted_proxies:
        return peer
    return client_address(peer, request.headers.getlist("x-forwarded-for"), rt.trusted_proxies)
