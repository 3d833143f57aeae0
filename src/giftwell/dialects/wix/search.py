"""Wix's search (`search.expression` over `fields`) as a native filter.

`code` finds the card whose full code is the expression (through its keyed hash, never by
scanning); `codeSuffix` the cards whose last four characters begin with it. Without `fields`,
both. The expression is ORed across the fields and ANDed with the search's `filter`.
"""

from __future__ import annotations

from typing import Any

from giftwell.dialects.wix.wire import bad
from giftwell.domain import codes

SEARCHABLE = ("code", "codeSuffix")


def native(raw: dict[str, Any] | None, path: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    expression = raw.get("expression")
    if expression is None or expression == "":
        return None
    if not isinstance(expression, str) or len(expression) > 200 or "\x00" in expression:
        raise bad(f"{path}.expression", "must be a string of at most 200 characters")
    fields = raw.get("fields") or list(SEARCHABLE)
    if not isinstance(fields, list) or not all(isinstance(f, str) and f in SEARCHABLE for f in fields):
        raise bad(f"{path}.fields", f"may name {', '.join(SEARCHABLE)}", "INVALID_ENUM_VALUE")
    term = codes.normalize(expression.strip())
    if not term:
        return None
    parts: list[dict[str, Any]] = []
    if "code" in fields:
        parts.append({"code": {"eq": term}})
    if "codeSuffix" in fields and len(term) <= 4:
        parts.append({"code_suffix": {"startsWith": term}})
    if not parts:
        return {"id": {"in": ["none"]}}  # a code suffix longer than four characters: nothing
    return parts[0] if len(parts) == 1 else {"or": parts}
