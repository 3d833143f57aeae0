"""JSON bodies whose amounts are exact decimals, for the dialects that speak major units.

A `Decimal` is written as the shortest exact JSON number, integral ones without a point (50,
40.5, 39.75, 0.001), so no amount ever passes through a float on its way out.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import Response

from giftwell.domain.money import decimal_text

__all__ = ["decimal_text", "dumps", "json_response"]


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(decimal_text(value).encode())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(body: Any) -> bytes:
    return orjson.dumps(body, default=_default)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json", headers=headers)
