"""Wix's query language (`$eq`, `$and`, `fieldName`/`order` sorts) onto the native card query.

Field names and operators are renamed (`_createdDate` -> `created_at`, `$ge`/`$gte` -> `gte`),
`ORDER`/`MANUAL` become `order`/`manual`, and amounts (decimal strings) become minor units. An
amount means different minor units in different currencies, so a condition on `balance` or
`initialValue` becomes one branch per currency exponent (`JPY 500` is 500, `EUR 5.00` is 500,
`KWD 5.000` is 5000): `balance = "5.00"` finds 5.00 EUR and 5 JPY alike, and not 0.500 KWD.
What the native query refuses (a filter no index answers, `$startsWith` on a full code) is
refused here with its reason.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from giftwell.dialects.wix.wire import SOURCES, bad, when
from giftwell.domain.card_query import MAX_DEPTH
from giftwell.domain.errors import ValidationFailed
from giftwell.domain.money import Currency, to_minor
from giftwell.services.currencies import by_exponent

AMOUNT_FIELDS = {"balance": "balance", "initialValue": "initial_amount"}
FIELDS = {
    "_id": "id",
    "id": "id",
    "code": "code",
    "codeSuffix": "code_suffix",
    "_createdDate": "created_at",
    "createdDate": "created_at",
    "_updatedDate": "updated_at",
    "updatedDate": "updated_at",
    "expirationDate": "expires_at",
    "disabledDate": "disabled_at",
    "currency": "currency",
    "source": "source",
    "notificationInfo.recipientInfo.email": "recipient_email",
    "notificationInfo.recipientInfo.name": "recipient_name",
    "notificationInfo.senderInfo.email": "sender_email",
    "notificationInfo.senderInfo.name": "sender_name",
    **{k: v for wix, v in AMOUNT_FIELDS.items() for k in (wix, f"{wix}.amount")},
}
TIMES = ("created_at", "updated_at", "expires_at", "disabled_at")
MILLISECOND = timedelta(milliseconds=1)
OPERATORS = {
    "$eq": "eq",
    "$ne": "ne",
    "$in": "in",
    "$exists": "exists",
    "$gt": "gt",
    "$gte": "gte",
    "$ge": "gte",
    "$lt": "lt",
    "$lte": "lte",
    "$le": "lte",
    "$startsWith": "startsWith",
    "$begins": "startsWith",
}


def native(raw: Any, path: str) -> dict[str, Any] | None:
    """The native filter for Wix's `raw` filter (None or `{}`: no filter)."""
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        raise bad(path, "must be an object")
    return _node(raw, path, 0)


def _node(raw: Any, path: str, depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise bad(path, f"may nest at most {MAX_DEPTH} levels", "MAX_DEPTH")
    if not isinstance(raw, dict) or not raw:
        raise bad(path, "must be a non-empty object")
    parts: list[dict[str, Any]] = []
    for key, value in raw.items():
        sub = f"{path}.{key}"
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise bad(sub, "must be a non-empty list of filters")
            parts.append({key[1:]: [_node(v, f"{sub}[{i}]", depth + 1) for i, v in enumerate(value)]})
        elif key == "$not":
            parts.append({"not": _node(value, sub, depth + 1)})
        elif key in FIELDS:
            ops = value if isinstance(value, dict) and any(k.startswith("$") for k in value) else {"$eq": value}
            for op, operand in ops.items():
                parts.append(_cond(key, op, operand, f"{sub}.{op}"))
        else:
            raise bad(sub, f"is not a field of a gift card; fields are {', '.join(FIELDS)}", "UNKNOWN_FIELD")
    return parts[0] if len(parts) == 1 else {"and": parts}


def _cond(key: str, op: str, operand: Any, path: str) -> dict[str, Any]:
    native_op = OPERATORS.get(op)
    if native_op is None:
        raise bad(path, f"is not a supported operator; use {', '.join(OPERATORS)}", "UNSUPPORTED_OPERATOR")
    field = FIELDS[key]
    if field == "source" and native_op in ("eq", "ne", "in"):
        operand = [_source(v, path) for v in operand] if isinstance(operand, list) else _source(operand, path)
    if field in AMOUNT_FIELDS.values() and native_op != "exists":
        if native_op == "ne":
            return {"not": _amount(field, "eq", operand, path)}
        return _amount(field, native_op, operand, path)
    if field in TIMES and native_op in ("eq", "ne", "in", "gt", "gte", "lt", "lte"):
        return _time(field, native_op, operand, path)
    return {field: {native_op: operand}}


def _millisecond(value: Any, path: str) -> tuple[str, str]:
    """The millisecond a Wix date names, as the half-open range [start, end) of instants."""
    at = when(value, path)
    if at is None:
        raise bad(path, "must not be empty", "REQUIRED_FIELD")
    start = at.replace(microsecond=at.microsecond // 1000 * 1000)
    return start.isoformat(), (start + MILLISECOND).isoformat()


def _time(field: str, op: str, operand: Any, path: str) -> dict[str, Any]:
    """Dates are shown to the millisecond: a date means that whole millisecond, so a card's own
    `createdDate` finds it with `$eq` (its stored instant has microseconds)."""
    if op == "in":
        if not isinstance(operand, list) or not operand:
            raise bad(path, "must be a non-empty list")
        return {"or": [_time(field, "eq", v, f"{path}[{i}]") for i, v in enumerate(operand)]}
    start, end = _millisecond(operand, path)
    if op == "ne":
        return {"not": {field: {"gte": start, "lt": end}}}
    bounds = {"eq": {"gte": start, "lt": end}, "gt": {"gte": end}, "gte": {"gte": start}, "lt": {"lt": start}}
    return {field: bounds.get(op) or {"lt": end}}  # lte: before the next millisecond


def _source(value: Any, path: str) -> Any:
    if isinstance(value, str) and value in SOURCES:
        return SOURCES[value].value
    raise bad(path, "must be ORDER or MANUAL", "INVALID_ENUM_VALUE")


def _minor(value: Any, exponent: int, path: str) -> int | None:
    """`value` (a decimal string) in minor units of an `exponent` currency; None if it has more
    places than such a currency."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise bad(path, 'must be a decimal string, like "50.00"', "DECIMAL_VALUE")
    try:
        Decimal(value)
    except (InvalidOperation, ValueError):
        raise bad(path, 'must be a decimal string, like "50.00"', "DECIMAL_VALUE") from None
    try:
        return to_minor(str(value), Currency("XXX", exponent), param=path)
    except ValidationFailed as exc:
        if exc.fields.get("rule") == "decimal_places":
            return None
        raise bad(path, exc.message, "DECIMAL_VALUE") from None


def _amount(field: str, op: str, operand: Any, path: str) -> dict[str, Any]:
    """One branch per currency exponent: the amount in that exponent's minor units, for the
    currencies of that exponent (the largest group as "none of the others")."""
    groups = by_exponent()
    largest = max(groups, key=lambda e: len(groups[e]))
    others = sorted(c for e, codes in groups.items() if e != largest for c in codes)
    branches: list[dict[str, Any]] = []
    for exponent, codes in groups.items():
        if op == "in":
            if not isinstance(operand, list) or not operand:
                raise bad(path, "must be a non-empty list")
            found = [_minor(v, exponent, f"{path}[{i}]") for i, v in enumerate(operand)]
            value: Any = [v for v in found if v is not None]
            if not value:
                continue
        else:
            value = _minor(operand, exponent, path)
            if value is None:
                continue
        currencies = {"not": {"currency": {"in": others}}} if exponent == largest else {"currency": {"in": list(codes)}}
        branches.append({"and": [{field: {op: value}}, currencies]})
    if not branches:
        raise bad(path, "has more decimal places than any currency", "DECIMAL_VALUE")
    return branches[0] if len(branches) == 1 else {"or": branches}


def sort(raw: Any, path: str) -> str:
    """Wix's `[{fieldName, order}]` as a native sort (`-created_at`); newest first by default."""
    if raw is None or raw == []:
        return "-created_at"
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise bad(path, "must be a list of {fieldName, order}")
    keys = [s for s in raw if FIELDS.get(s.get("fieldName", "")) != "id"] or raw[:1]
    if len(keys) > 1:
        raise bad(path, "may sort on one field (the id breaks ties)", "MAX_SIZE")
    entry = keys[0]
    name, order = entry.get("fieldName"), entry.get("order", "ASC")
    if not isinstance(name, str) or name not in FIELDS:
        raise bad(f"{path}[0].fieldName", f"must be one of {', '.join(FIELDS)}", "UNKNOWN_FIELD")
    if order not in ("ASC", "DESC"):
        raise bad(f"{path}[0].order", "must be ASC or DESC", "INVALID_ENUM_VALUE")
    return ("-" if order == "DESC" else "") + FIELDS[name]
