"""Reading WizzGift requests: the order body and the order query, with the seed's split between
400 (malformed, or a required parameter missing) and 422 (a value of the wrong type or shape).

Numbers are read as exact decimals (`parse_float=Decimal`), never floats: an amount of 10.005
reaches the services as Decimal("10.005") and is refused there for its currency. Unknown
top-level parameters are refused (a misspelt `isTest` must not place a live order); extra keys
inside a `requiredInfoFromUser` entry are ignored (a client may send back the product's whole
field object with its value).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from giftwell.domain.errors import ValidationFailed
from giftwell.http.decimal_json import read_object
from giftwell.services.orders.by_reference import ReferencedOrder

ORDER_FIELDS = ("amount", "referenceId", "quantity", "productId", "requiredInfoFromUser")
OPTIONAL_FIELDS = ("isTest",)
MAX_REFERENCE = 200
MAX_ID = 200
MAX_INFOS = 100
# Far above any order's body (100 entries of required information); a larger one is refused
# before it is read whole.
MAX_BODY = 256 * 1024
TOO_LARGE = f"The request body is larger than {MAX_BODY} bytes."


class BadRequest(Exception):
    """Malformed, or missing a required parameter: the seed's 400 invalid_request."""


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, numbers as exact decimals; anything else is a 400."""
    try:
        return read_object(raw)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field} {message}", param=field)


def _string(data: dict[str, Any], field: str, limit: int) -> str:
    value = data[field]
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "must be a non-empty string")
    if len(value) > limit:
        raise _invalid(field, f"must be at most {limit} characters")
    return value


def _quantity(value: Any) -> int:
    if not isinstance(value, Decimal) or not value.is_finite() or value != value.to_integral_value():
        raise _invalid("quantity", "must be a whole number")
    if value < 1:
        raise _invalid("quantity", "must be at least 1")
    # Far beyond any order's limit (which the services enforce), and small enough to be an int cheaply.
    if value.adjusted() > 9:
        raise _invalid("quantity", "is too large")
    return int(value)


def _infos(value: Any) -> dict[str, str]:
    field = "requiredInfoFromUser"
    if not isinstance(value, list):
        raise _invalid(field, "must be an array of {id, value} objects")
    if len(value) > MAX_INFOS:
        raise _invalid(field, f"has more than {MAX_INFOS} entries")
    out: dict[str, str] = {}
    for i, entry in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(entry, dict) or "id" not in entry or "value" not in entry:
            raise _invalid(where, "must be an object with id and value")
        key, given = entry["id"], entry["value"]
        if not isinstance(key, str) or not key or len(key) > MAX_ID:
            raise _invalid(f"{where}.id", "must be a non-empty string")
        if not isinstance(given, str):
            raise _invalid(f"{where}.value", "must be a string")
        if key in out:
            raise _invalid(f"{where}.id", f"repeats {key!r}")
        out[key] = given
    return out


def read_order(data: dict[str, Any]) -> ReferencedOrder:
    """`POST /order`'s body, checked for presence (400) and shape (422)."""
    missing = [f for f in ORDER_FIELDS if data.get(f) is None]
    if missing:
        raise BadRequest(f"Missing required parameter(s): {', '.join(missing)}.")
    unknown = sorted(set(data) - set(ORDER_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise ValidationFailed(f"Unknown parameter(s): {', '.join(unknown)}", param=unknown[0])
    amount = data["amount"]
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise _invalid("amount", "must be a number")
    if amount <= 0:
        raise _invalid("amount", "must be greater than 0")
    is_test = data.get("isTest")
    if is_test is not None and not isinstance(is_test, bool):
        raise _invalid("isTest", "must be true or false")
    return ReferencedOrder(
        reference=_string(data, "referenceId", MAX_REFERENCE),
        product_id=_string(data, "productId", MAX_ID),
        amount=amount,
        quantity=_quantity(data["quantity"]),
        fields=_infos(data["requiredInfoFromUser"]),
        test=bool(is_test),
    )


@dataclass(frozen=True, slots=True)
class OrderQuery:
    id: str | None
    reference_id: str | None


def read_order_query(params: dict[str, list[str]]) -> OrderQuery:
    """`GET /order?id=` or `?referenceId=` (one is required; given both, both must name the order)."""
    for name in ("id", "referenceId"):
        if len(params.get(name, [])) > 1:
            raise BadRequest(f"Give {name} once.")
    order_id = (params.get("id") or [""])[0].strip() or None
    reference = (params.get("referenceId") or [""])[0].strip() or None
    if order_id is None and reference is None:
        raise BadRequest("Missing required parameter: id or referenceId.")
    for name, value in (("id", order_id), ("referenceId", reference)):
        if value is not None and len(value) > MAX_REFERENCE:
            raise _invalid(name, f"must be at most {MAX_REFERENCE} characters")
    return OrderQuery(order_id, reference)
