"""JSON text exactly as JavaScript's `JSON.stringify(JSON.parse(text))` writes it back.

WizzGift's receivers verify `X-Signature` over `JSON.stringify(req.body)`: the body they parsed,
written again by JavaScript. A body we send must therefore be a fixed point of that round trip,
byte for byte, or the seed's own verification code rejects it. What that takes:

- compact separators (`,` and `:`, no spaces);
- non-ASCII characters as they are (UTF-8), not `\\uXXXX`; only `"`, `\\` and the control
  characters below U+0020 are escaped (`\\b \\f \\n \\r \\t`, the rest as lowercase `\\u00xx`),
  which is also what Python's encoder does with `ensure_ascii=False`;
- a lone surrogate as a lowercase `\\udxxx` escape (well-formed `JSON.stringify`, ES2019);
- whole numbers without a decimal point; integers only inside +-(2^53 - 1), the doubles a
  JavaScript number holds exactly (anything larger would come back as other digits);
- key order kept, except that JavaScript puts *array-index* keys ("0", "17", not "017" or "-1")
  first, in ascending numeric order, whatever order they were written in. We write them that way.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1
_MAX_INDEX = 2**32 - 2
_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_LONE = re.compile("[\ud800-\udfff]")
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=True)


def _index(key: str) -> int | None:
    """The key's value if JavaScript treats it as an array index (canonical, 0 .. 2^32-2)."""
    if key.isdigit() and key.isascii() and (key == "0" or key[0] != "0"):
        n = int(key)
        if n <= _MAX_INDEX:
            return n
    return None


def _prepare(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is beyond what a JavaScript number holds exactly")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer() or abs(value) > MAX_SAFE_INTEGER:
            raise ValueError("only whole, safe numbers are written (JavaScript prints other floats differently)")
        return int(value)
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"object keys must be strings, not {type(k).__name__}")
            items.append((k, _prepare(v)))
        indexed = sorted((kv for kv in items if _index(kv[0]) is not None), key=lambda kv: _index(kv[0]) or 0)
        return dict(indexed + [kv for kv in items if _index(kv[0]) is None])
    if isinstance(value, list | tuple):
        return [_prepare(v) for v in value]
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _surrogates(text: str) -> str:
    # A pair of surrogate code points is one character to JavaScript: write it as that character.
    text = _PAIR.sub(lambda m: m.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le"), text)
    return _LONE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dumps(value: Any) -> bytes:
    """`value` as the UTF-8 bytes of the JSON text JavaScript would write for it."""
    text = _ENCODER.encode(_prepare(value))
    if _LONE.search(text):
        text = _surrogates(text)
    return text.encode("utf-8")
