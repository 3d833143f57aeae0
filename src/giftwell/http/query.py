"""Query parameters in brackets, Stripe's way: `metadata[color]=red&metadata[size]=m` is
`{"color": "red", "size": "m"}` under `metadata`."""

from __future__ import annotations

import re

from fastapi import Request

from giftwell.domain.errors import ValidationFailed

_BRACKETED = re.compile(r"^(?P<name>[a-z_]+)\[(?P<key>[^\[\]]{1,40})\]$")


def bracketed(request: Request, name: str) -> dict[str, str]:
    """Every `name[key]=value` of the query. A key given twice, an empty or too long key, or a
    bracket that does not close is a validation error naming `name`."""
    found: dict[str, str] = {}
    for raw, value in request.query_params.multi_items():
        if not raw.startswith(name + "["):
            continue
        m = _BRACKETED.match(raw)
        if m is None or m["name"] != name:
            raise ValidationFailed(f"{name} is written {name}[key]=value, keys of 1 to 40 characters", param=name)
        if m["key"] in found:
            raise ValidationFailed(f"{name}[{m['key']}] is given twice", param=name)
        found[m["key"]] = value
    return found
