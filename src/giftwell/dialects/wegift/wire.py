"""Reading WeGift requests: the order body, the list's query, the product list's query.

Numbers are read as exact decimals (`parse_float=Decimal`), never floats: a `face_value` of
10.005 reaches the conversion as Decimal("10.005") and is refused for GBP's two places. A body
that is not a JSON object is `bad_request`; a field of the wrong type or shape, missing, or
unknown is `validation_error` naming it (a misspelt `delivery-email` must not send nothing
silently).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from giftwell.dialects.wegift.errors import BadRequest
from giftwell.domain.errors import ValidationFailed
from giftwell.domain.money import to_minor
from giftwell.domain.orders import Mode
from giftwell.http.decimal_json import read_object
from giftwell.services.currencies import country_currency
from giftwell.services.orders.placing import ChoiceRequest, ItemRequest, OrderRequest

ORDER_FIELDS = frozenset({"items", "idempotency_key", "card_id", "products"})
ITEM_FIELDS = frozenset({"country", "face_value", "delivery_email"})
MAX_KEY = 200
MAX_ITEMS = 100
MAX_PRODUCTS = 100


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, numbers as exact decimals; anything else is a 400."""
    try:
        return read_object(raw)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field} {message}", param=field)


def _string(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "must be a non-empty string")
    if len(value) > limit:
        raise _invalid(field, f"must be at most {limit} characters")
    return value.strip()


def _item(i: int, raw: Any, choice: ChoiceRequest) -> ItemRequest:
    p = f"items[{i}]"
    if not isinstance(raw, dict):
        raise _invalid(p, "must be an object with country and face_value")
    unknown = sorted(set(raw) - ITEM_FIELDS)
    if unknown:
        raise _invalid(f"{p}.{unknown[0]}", "is not a field of an item")
    for name in ("country", "face_value"):
        if raw.get(name) is None:
            raise ValidationFailed(f"{p}.{name} is required", param=f"{p}.{name}", rule="required")
    country = raw["country"]
    cur = country_currency(country, param=f"{p}.country")
    value = raw["face_value"]
    if not isinstance(value, Decimal):
        raise _invalid(f"{p}.face_value", "must be a number")
    amount = to_minor(value, cur, param=f"{p}.face_value")
    if amount <= 0:
        raise _invalid(f"{p}.face_value", "must be greater than zero")
    email = raw.get("delivery_email")
    if email is not None and (not isinstance(email, str) or len(email) > 320):
        raise _invalid(f"{p}.delivery_email", "must be an email address")
    return ItemRequest(
        "",
        amount,
        country=country,
        recipient={"email": email} if email else {},
        delivery={"channel": "email"} if email else None,
        choice=choice,
    )


def read_order(data: dict[str, Any]) -> OrderRequest:
    """`POST /v2/order`'s body. Every item must name one country (WeGift's rule, the services'
    `one_country`); `products` restricts every item's choice."""
    unknown = sorted(set(data) - ORDER_FIELDS)
    if unknown:
        raise _invalid(unknown[0], "is not a field of an order")
    for name in ("items", "idempotency_key", "card_id"):
        if data.get(name) is None:
            raise ValidationFailed(f"{name} is required", param=name, rule="required")
    key = _string(data["idempotency_key"], "idempotency_key", MAX_KEY)
    card = _string(data["card_id"], "card_id", 40)
    items = data["items"]
    if not isinstance(items, list) or not items:
        raise _invalid("items", "must be a non-empty array")
    if len(items) > MAX_ITEMS:
        raise _invalid("items", f"may have at most {MAX_ITEMS} entries")
    products = data.get("products")
    if products is not None:
        if not isinstance(products, list) or not products or len(products) > MAX_PRODUCTS:
            raise _invalid("products", f"must be an array of 1 to {MAX_PRODUCTS} product codes")
        for i, code in enumerate(products):
            _string(code, f"products[{i}]", 80)
    choice = ChoiceRequest(list(products)) if products is not None else ChoiceRequest()
    return OrderRequest(
        reference=key,
        items=[_item(i, raw, choice) for i, raw in enumerate(items)],
        mode=Mode.AUTO,
        funding_source=card,
        one_country=True,
    )


def _one(params: dict[str, list[str]], name: str, rule: str = "once") -> str | None:
    given = params.get(name, [])
    if len(given) > 1:
        raise ValidationFailed(f"give {name} once", param=name, rule=rule)
    return (given[0].strip() or None) if given else None


@dataclass(frozen=True, slots=True)
class ListQuery:
    limit: int
    before: str | None
    after: str | None


def read_list(params: dict[str, list[str]], *, order_id: Any) -> ListQuery:
    """`GET /v2/order?limit&before&after`: `limit` 1 to 100 (20 when absent); `before` and
    `after` are order ids (`O-...`), at most one of them."""
    raw = _one(params, "limit", "pagination")
    limit = 20
    if raw is not None:
        if not raw.isdigit() or len(raw) > 4:
            raise ValidationFailed("limit must be a whole number from 1 to 100", param="limit", rule="pagination")
        limit = int(raw)
    before, after = _one(params, "before", "pagination"), _one(params, "after", "pagination")
    return ListQuery(limit, order_id(before, "before"), order_id(after, "after"))


def read_country(params: dict[str, list[str]]) -> str:
    """`GET /v2/product?country_code=GB`: mandatory in the legacy API."""
    code = _one(params, "country_code")
    if code is None:
        raise ValidationFailed("country_code is required", param="country_code", rule="required")
    country_currency(code, param="country_code")
    return code
