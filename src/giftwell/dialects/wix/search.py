"""Wix's search (`search.expression` over `fields`) as a native filter.

`code` finds the card whose full code is the expression (through its keyed hash, never by
scanning); `codeSuffix` the cards whose last four characters begin with it; `notificationInfo`
(our choice: Wix names no text field) the cards whose recipient's or sender's names and emails,
of the card or of any email sent of it, hold every word of the expression (words of 3 characters
or more: the native text search). Without `fields`: all three, the code one only for what could be a
code (8 to 20 letters and digits, a digit among them), the text one only when every word is long
enough. The expression is ORed across the fields and ANDed with the search's `filter`.
"""

from __future__ import annotations

import re
from typing import Any

from giftwell.dialects.wix.wire import bad
from giftwell.domain import codes
from giftwell.domain.card_query import TEXT_MIN

SEARCHABLE = ("code", "codeSuffix", "notificationInfo")
_CODE = re.compile(r"^(?=.*[0-9])[A-Z0-9]{8,20}$")


def _looks_like_code(term: str) -> bool:
    """Without `fields`, the full code is tried only for what could be one (8 to 20 letters and
    digits, a digit among them): a search by name is then not a code lookup, which the guessing
    guard would count when it finds nothing."""
    return bool(_CODE.match(term))


def native(raw: dict[str, Any] | None, path: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    expression = raw.get("expression")
    if expression is None or expression == "":
        return None
    if not isinstance(expression, str) or len(expression) > 200 or "\x00" in expression:
        raise bad(f"{path}.expression", "must be a string of at most 200 characters")
    given = raw.get("fields")
    fields = given or list(SEARCHABLE)
    if not isinstance(fields, list) or not all(isinstance(f, str) and f in SEARCHABLE for f in fields):
        raise bad(f"{path}.fields", f"may name {', '.join(SEARCHABLE)}", "INVALID_ENUM_VALUE")
    term = codes.normalize(expression.strip())
    if not term:
        return None
    parts: list[dict[str, Any]] = []
    if "code" in fields and (given or _looks_like_code(term)):
        parts.append({"code": {"eq": term}})
    if "codeSuffix" in fields and len(term) <= 4:
        parts.append({"code_suffix": {"startsWith": term}})
    words = expression.split()
    if "notificationInfo" in fields and (given or all(len(w) >= TEXT_MIN for w in words)):
        parts.append({"text": {"search": expression}})
    if not parts:
        return {"id": {"in": ["none"]}}  # a code suffix longer than four characters: nothing
    return parts[0] if len(parts) == 1 else {"or": parts}
