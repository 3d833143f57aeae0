"""Helpers of the WizzGift dialect tests: the seed's examples, a JSON-type comparison, and
tokens obtained through the dialect's own OAuth endpoint."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.oauth_flow import SEED_SCOPES, seed_tokens, wizz_client

B2B = "/api/b2b"


def json_type(value: Any) -> str:
    """The JSON type a value has once parsed: numbers are one type, whatever their digits."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def assert_same_shape(ours: Any, seed: Any, where: str = "$") -> None:
    """Every member of the seed's example is in ours with the same JSON type, recursively (the
    first element of the seed's arrays against each of ours)."""
    assert json_type(ours) == json_type(seed), f"{where}: {json_type(ours)} {ours!r}, the seed has {seed!r}"
    if isinstance(seed, dict):
        missing = set(seed) - set(ours)
        assert not missing, f"{where}: missing {sorted(missing)}"
        for k, v in seed.items():
            assert_same_shape(ours[k], v, f"{where}.{k}")
    elif isinstance(seed, list) and seed:
        for i, item in enumerate(ours):
            assert_same_shape(item, seed[0], f"{where}[{i}]")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


__all__ = ["B2B", "SEED_SCOPES", "assert_same_shape", "bearer", "json_type", "seed_tokens", "wizz_client"]
