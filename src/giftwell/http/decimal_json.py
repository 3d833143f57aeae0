"""JSON bodies whose amounts are exact decimals, for the dialects that speak major units.

A `Decimal` is written as the shortest exact JSON number, integral ones without a point (50,
40.5, 39.75, 0.001), or, with `keep_scale`, with the places it carries (50.00, as the currency
writes it), so no amount ever passes through a float on its way out. Times are written with `Z`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import Response

from giftwell.domain.money import decimal_text

__all__ = ["decimal_text", "dumps", "json_response", "read_object"]


def _shortest(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(decimal_text(value).encode())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _scaled(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(format(value, "f").encode())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(body: Any, *, keep_scale: bool = False) -> bytes:
    return orjson.dumps(body, default=_scaled if keep_scale else _shortest, option=orjson.OPT_UTC_Z)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None, *, keep_scale: bool = False
) -> Response:
    return Response(
        dumps(body, keep_scale=keep_scale), status_code=status, media_type="application/json", headers=headers
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object, every number an exact `Decimal` (never a float).
    `ValueError` with the words a client should see when it is not valid JSON or not an object."""
    try:
        data = json.loads(raw, parse_float=Decimal, parse_int=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ValueError("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ValueError("The request body must be a JSON object.")
    return data
