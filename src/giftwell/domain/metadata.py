"""Metadata a caller attaches to its own objects (an order, an order's item): string keys and
string values, within Stripe's limits, so it fits any column and any vendor that echoes it back.
Stored as given, returned as given, and searchable by exact key and value."""

from __future__ import annotations

from typing import Any

from giftwell.domain.errors import ValidationFailed

MAX_KEYS = 50
MAX_KEY = 40
MAX_VALUE = 500


def check_metadata(value: Any, *, param: str = "metadata") -> dict[str, str]:
    """`value` as metadata, or `ValidationFailed` naming the offending key (`metadata.<key>`)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(f"{param} must be an object of string keys and string values", param=param)
    if len(value) > MAX_KEYS:
        raise ValidationFailed(f"{param} may have at most {MAX_KEYS} keys", param=param)
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY or "[" in key or "]" in key:
            raise ValidationFailed(f"{param} keys are 1 to {MAX_KEY} characters, without square brackets", param=param)
        if not isinstance(item, str):
            raise ValidationFailed(f"{param}.{key} must be a string", param=f"{param}.{key}")
        if len(item) > MAX_VALUE:
            raise ValidationFailed(f"{param}.{key} may be at most {MAX_VALUE} characters", param=f"{param}.{key}")
        out[key] = item
    return out
