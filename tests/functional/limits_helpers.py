"""Clients at chosen addresses, for the rate-limit and guessing tests."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI


def client(app: FastAPI, ip: str = "203.0.113.1") -> httpx.AsyncClient:
    """A client whose requests come from `ip` (the ASGI socket peer)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url="http://testserver")


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "error": {k: v for k, v in body["error"].items() if k != "request_id"}}
