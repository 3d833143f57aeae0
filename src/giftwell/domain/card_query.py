"""The card query language: a filter tree over a card's fields, checked before any SQL exists.

A filter is a JSON object. Each key is a field (`recipient_email`, `metadata.<key>`, ...) whose
value is an object of operators (`{"eq": ...}`, `{"gte": ...}`; several are ANDed), or one of
the combinators `and` / `or` (a list of filters) and `not` (one filter). Several keys in one
object are ANDed. `parse` turns it into a tree of `Cond`, `And`, `Or`, `Not`, checking every
field, operator and value (type, length, offsets on times) and naming the offending path.

Whether a filter can run is decided here too (`anchored`): a filter must hold at least one
condition an index can answer (eq, in, a range, startsWith, exists) on every path, so that it
never walks all of an account's cards. `ne` and `not` only narrow what such a condition found.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from giftwell.domain import codes
from giftwell.domain.cards import CardSource, CardStatus
from giftwell.domain.errors import GiftwellError, ValidationFailed
from giftwell.domain.money import MAX_AMOUNT

MAX_IN = 100
MAX_NODES = 50
MAX_DEPTH = 8
MAX_TEXT = 500


class QueryNotIndexed(GiftwellError):
    """A filter or sort no index answers: refused, not run."""

    code = "query_not_indexed"
    status = 400


class Kind(enum.Enum):
    ID = "id"
    CODE = "code"
    SUFFIX = "suffix"
    ENUM = "enum"
    CURRENCY = "currency"
    INT = "int"
    TIME = "time"
    EMAIL = "email"
    NAME = "name"
    META = "meta"
    TEXT = "text"


EQ, NE, IN, EXISTS = "eq", "ne", "in", "exists"
RANGE = ("gt", "gte", "lt", "lte")
STARTS = "startsWith"
SEARCH = "search"
BASIC = frozenset({EQ, NE, IN, EXISTS})
ORDERED = BASIC | frozenset(RANGE)
TEXTUAL = BASIC | {STARTS}
# The operators an index answers; `ne` is the one that only narrows.
INDEXED = frozenset({EQ, IN, EXISTS, STARTS, SEARCH, *RANGE})


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    ops: frozenset[str]
    sortable: bool = True
    nullable: bool = False
    choices: tuple[str, ...] = ()


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("id", Kind.ID, ORDERED | {STARTS}),
        Field("code", Kind.CODE, BASIC, sortable=False),
        Field("code_suffix", Kind.SUFFIX, ORDERED | {STARTS}),
        Field("status", Kind.ENUM, BASIC, choices=tuple(s.value for s in CardStatus)),
        Field("currency", Kind.CURRENCY, BASIC),
        Field("balance", Kind.INT, ORDERED),
        Field("initial_amount", Kind.INT, ORDERED),
        Field("created_at", Kind.TIME, ORDERED),
        Field("updated_at", Kind.TIME, ORDERED),
        Field("expires_at", Kind.TIME, ORDERED, nullable=True),
        Field("disabled_at", Kind.TIME, ORDERED, nullable=True),
        Field("source", Kind.ENUM, BASIC, choices=tuple(s.value for s in CardSource)),
        Field("sender_email", Kind.EMAIL, TEXTUAL, nullable=True),
        Field("sender_name", Kind.NAME, TEXTUAL, nullable=True),
        Field("recipient_email", Kind.EMAIL, TEXTUAL, nullable=True),
        Field("recipient_name", Kind.NAME, TEXTUAL, nullable=True),
        # Every word within the card's names, emails, code suffix and metadata values, and its
        # email deliveries' (services/cards/text.py).
        Field("text", Kind.TEXT, frozenset({SEARCH}), sortable=False),
    )
}
META = Field("metadata", Kind.META, TEXTUAL, nullable=True)


@dataclass(frozen=True, slots=True)
class Cond:
    """`field op value`; `key` is the metadata key for `metadata.<key>`. Values are already in
    the stored form: emails lowercased, names lowercased, suffixes normalised, times in UTC."""

    field: Field
    op: str
    value: Any
    key: str | None = None


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    part: Node


Node = Cond | And | Or | Not


def field(name: str, *, param: str) -> tuple[Field, str | None]:
    if name.startswith("metadata."):
        key = name[len("metadata.") :]
        if not 1 <= len(key) <= 40:
            raise ValidationFailed("metadata keys are 1 to 40 characters", param=param)
        return META, key
    found = FIELDS.get(name)
    if found is None:
        raise ValidationFailed(
            f"unknown field {name!r}; fields are {', '.join(FIELDS)} and metadata.<key>", param=param
        )
    return found, None


def parse(raw: Any, *, param: str = "filter") -> Node | None:
    """The filter tree of `raw` (`None` or `{}`: no filter), or `ValidationFailed` naming the
    path of the offending part (`filter.and[1].balance.gte`)."""
    if raw is None or raw == {}:
        return None
    counter = [0]
    return _node(raw, param, 0, counter)


def _node(raw: Any, path: str, depth: int, counter: list[int]) -> Node:
    if depth > MAX_DEPTH:
        raise ValidationFailed(f"filter may nest at most {MAX_DEPTH} levels", param=path)
    if not isinstance(raw, dict) or not raw:
        raise ValidationFailed("a filter is a non-empty object", param=path)
    parts: list[Node] = []
    for key, value in raw.items():
        sub = f"{path}.{key}"
        if key in ("and", "or"):
            if not isinstance(value, list) or not value:
                raise ValidationFailed(f"{key} takes a non-empty list of filters", param=sub)
            kids = tuple(_node(v, f"{sub}[{i}]", depth + 1, counter) for i, v in enumerate(value))
            parts.append(And(kids) if key == "and" else Or(kids))
        elif key == "not":
            parts.append(Not(_node(value, sub, depth + 1, counter)))
        else:
            if not isinstance(key, str):
                raise ValidationFailed("field names are strings", param=path)
            f, meta_key = field(key, param=sub)
            if not isinstance(value, dict) or not value:
                raise ValidationFailed(f'{key} takes an object of operators, like {{"eq": ...}}', param=sub)
            for op, operand in value.items():
                counter[0] += 1
                if counter[0] > MAX_NODES:
                    raise ValidationFailed(f"a filter may hold at most {MAX_NODES} conditions", param=path)
                parts.append(_cond(f, meta_key, op, operand, f"{sub}.{op}"))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _cond(f: Field, key: str | None, op: str, operand: Any, path: str) -> Cond:
    if op not in f.ops:
        raise ValidationFailed(f"{f.name} does not take {op!r}; it takes {', '.join(sorted(f.ops))}", param=path)
    if op == EXISTS:
        if not isinstance(operand, bool):
            raise ValidationFailed("exists takes true or false", param=path)
        return Cond(f, op, operand, key)
    if op == IN:
        if not isinstance(operand, list) or not 1 <= len(operand) <= MAX_IN:
            raise ValidationFailed(f"in takes a list of 1 to {MAX_IN} values", param=path)
        return Cond(f, op, tuple(value(f, v, path=f"{path}[{i}]", op=op) for i, v in enumerate(operand)), key)
    return Cond(f, op, value(f, operand, path=path, op=op), key)


def value(f: Field, raw: Any, *, path: str, op: str = EQ) -> Any:
    """`raw` in the stored form of `f`, or `ValidationFailed` naming `path`."""
    if f.kind is Kind.INT:
        if isinstance(raw, bool) or not isinstance(raw, int) or not -MAX_AMOUNT <= raw <= MAX_AMOUNT:
            raise ValidationFailed(f"{f.name} takes an integer of minor units", param=path)
        return raw
    if f.kind is Kind.TIME:
        return _time(raw, path)
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TEXT or "\x00" in raw:
        raise ValidationFailed(f"{f.name} takes a string of 1 to {MAX_TEXT} characters", param=path)
    if f.kind is Kind.TEXT:
        return tuple(search_words(raw, param=path))
    return _text(f, raw, path, op)


def _text(f: Field, raw: str, path: str, op: str) -> str:
    k = f.kind
    if k in (Kind.CODE, Kind.SUFFIX):
        code = codes.normalize(raw)
        whole = op not in (STARTS, *RANGE)
        if k is Kind.SUFFIX and (not 1 <= len(code) <= 4 or (whole and len(code) != 4)):
            raise ValidationFailed("code_suffix is the code's last 4 characters", param=path)
        if not code:
            raise ValidationFailed("code must not be empty", param=path)
        return code
    if k is Kind.ENUM and raw not in f.choices:
        raise ValidationFailed(f"{f.name} is one of {', '.join(f.choices)}", param=path)
    if k is Kind.CURRENCY and (len(raw) != 3 or not raw.isascii() or not raw.isalpha() or not raw.isupper()):
        raise ValidationFailed("currency is an ISO-4217 code like EUR", param=path)
    if k in (Kind.EMAIL, Kind.NAME):
        return raw.strip().lower()
    return raw


def _time(raw: Any, path: str) -> datetime:
    if isinstance(raw, str):
        try:
            at = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
        except ValueError:
            at = None
        if at is not None and at.tzinfo is not None:
            try:
                return at.astimezone(UTC)
            except (OverflowError, ValueError):
                pass
        if at is not None:
            raise ValidationFailed("times need an offset (Z or +02:00)", param=path)
    raise ValidationFailed("times are ISO-8601 strings with an offset, like 2026-01-05T10:00:00Z", param=path)


def anchored(node: Node | None) -> bool:
    """Whether an index answers `node`: an indexed condition on every branch of it."""
    if node is None:
        return True
    if isinstance(node, Cond):
        return node.op in INDEXED
    if isinstance(node, And):
        return any(anchored(p) for p in node.parts)
    if isinstance(node, Or):
        return all(anchored(p) for p in node.parts)
    return False


def require_anchored(node: Node | None, *, param: str = "filter") -> None:
    if not anchored(node):
        raise QueryNotIndexed(
            "this filter would read every card: `ne` and `not` only narrow; combine them with an eq, in, "
            "range, startsWith or exists condition (with `and`), on every branch of an `or`",
            param=param,
        )


@dataclass(frozen=True, slots=True)
class SortKey:
    field: Field
    descending: bool
    key: str | None = None  # the metadata key of `metadata.<key>`

    @property
    def name(self) -> str:
        return ("-" if self.descending else "") + (f"metadata.{self.key}" if self.key else self.field.name)


def sort_key(raw: Any, *, param: str = "sort") -> SortKey:
    """`created_at` or `-created_at` (newest first); the id breaks ties."""
    if not isinstance(raw, str) or not raw:
        raise ValidationFailed("sort is a field name, with a leading - for descending order", param=param)
    name = raw[1:] if raw.startswith("-") else raw
    f, key = field(name, param=param)
    if f.kind is Kind.CODE:
        raise QueryNotIndexed("code cannot be sorted: it is kept only as a keyed hash", param=param)
    if f.kind is Kind.TEXT:
        raise QueryNotIndexed("text is a search, not a value: it cannot be sorted", param=param)
    return SortKey(f, raw.startswith("-"), key)


TEXT_MIN = 3  # a trigram index answers words of three characters or more
MAX_WORDS = 8


def search_body(existing: str | None, terms: Any) -> str:
    """A card's searchable text: `existing` with the new `terms` (names, emails, a code suffix,
    metadata values), each lowercased on its own line, without repeats."""
    lines = [x for x in (existing or "").split("\n") if x]
    for term in terms:
        if isinstance(term, str):
            t = " ".join(term.lower().split())[:MAX_TEXT]
            if t and t not in lines:
                lines.append(t)
    return "\n".join(lines)


def search_words(raw: str, *, param: str) -> list[str]:
    """The words of a text search, lowercased; each must be 3 characters or more (the index
    answers nothing shorter), at most 8 of them."""
    words = [w for w in raw.lower().split() if w]
    if not words:
        raise ValidationFailed("a text search needs a word", param=param)
    if len(words) > MAX_WORDS:
        raise ValidationFailed(f"a text search takes at most {MAX_WORDS} words", param=param)
    short = [w for w in words if len(w) < TEXT_MIN]
    if short:
        raise QueryNotIndexed(
            f"search words need at least {TEXT_MIN} characters (the index answers nothing shorter): {short[0]!r}",
            param=param,
        )
    return words
