"""The Wix Gift Cards v1 sub-application, mounted at `/gift-cards/v1` (seed 001, docs/dialects/wix.md).

| Wix method | route |
|---|---|
| Create Gift Card | `POST /gift-cards` |
| Get Gift Card | `GET /gift-cards/{id}` |
| List Gift Cards By Email | `GET /gift-cards?email=` |
| Query / Search / Count | `POST /gift-cards/query`, `/search`, `/count` |
| Disable Gift Card | `POST /gift-cards/{id}/disable` |
| Send Gift Card Email | `POST /gift-cards/{id}/send-email` |
| Query Gift Card Transactions | `POST /gift-cards/transactions/query-gift-card-transactions` |

Each runs the same way (`handle`): the caller's token from `Authorization` (with or without
`Bearer `; `wix-site-id` is accepted and ignored) and its scope, then one service use case and
its answer in Wix's words. Every failure goes to `errors.respond`. No gift-card rule is decided
here: the services refuse, this module words the refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from pydantic import RootModel
from starlette.responses import Response

from giftwell.dialects.wix import errors, filters, mapping, search, wire
from giftwell.domain.access import Principal
from giftwell.domain.cards import CardAction, Party
from giftwell.domain.codes import CodeFormat
from giftwell.domain.contacts import check_email
from giftwell.domain.delivery import Channel, Notification
from giftwell.domain.money import to_minor
from giftwell.http.decimal_json import json_response
from giftwell.http.deps import authenticate
from giftwell.http.request import client_ip, get_runtime
from giftwell.http.tx import Tx
from giftwell.services.cards import lifecycle
from giftwell.services.cards import query as card_query
from giftwell.services.currencies import currency as check_currency
from giftwell.services.delivery import gifting, notices

MOUNT = "/gift-cards/v1"
# Wix codes are letters and digits only: 16 of the unambiguous alphabet, without dashes.
GENERATED = CodeFormat(kind="alphanumeric", length=16, group=0)

Operation = Callable[[Request, Principal], Awaitable[Response]]


class Body(RootModel[dict[str, Any]]):
    """A Wix body, for `Tx` (which stores what it renders for an idempotent replay)."""


def card_id(request: Request) -> str:
    value = request.path_params["gift_card_id"]
    if not isinstance(value, str) or not 1 <= len(value) <= 64 or "\x00" in value:
        raise wire.bad("giftCardId", "is not a gift card id")
    return value


def notification(n: wire.NoticeIn) -> Notification:
    return Notification(
        channel=Channel.EMAIL,
        to=n.recipient_email,
        recipient_name=n.recipient_name,
        sender_name=n.sender_name,
        message=n.message,
        image_url=n.image_url,
        scheduled_at=n.at,
    )


async def create(request: Request, p: Principal) -> Response:
    c = wire.create(wire.parse(await request.body()))
    cur = check_currency(c.currency)
    minor = to_minor(c.amount, cur, param="amount")
    n = c.notice
    sender = Party(n.sender_name, check_email(n.sender_email, param="sender.email")) if n and n.sender_email else None
    recipient = Party(n.recipient_name, check_email(n.recipient_email, param="recipient.email")) if n else None
    tx = Tx(request, errors.render_stored(errors.FIELDS))
    return await tx.run(
        p,
        lambda uow: gifting.issue_and_send(
            uow,
            account_id=p.account_id,
            notification=notification(n) if n else None,
            currency=cur.code,
            amount=minor,
            code=c.code,
            code_format=GENERATED,
            expires_at=c.expires_at,
            sender=sender,
            recipient=recipient,
            source=c.source,
        ),
        lambda gift: Body({"giftCard": mapping.gift_card(gift.issued.card, gift.delivery, code=gift.issued.code)}),
        key=c.idempotency_key,
    )


async def get_card(request: Request, p: Principal) -> Response:
    found = await notices.show(get_runtime(request), account_id=p.account_id, card_id=card_id(request))
    return json_response({"giftCard": mapping.noticed(found)})


async def _page(
    request: Request, p: Principal, native: dict[str, Any] | None, sort: str, paging: wire.Paging
) -> Response:
    rt = get_runtime(request)
    query = card_query.prepare(native, sort)
    page = await card_query.find(
        rt,
        account_id=p.account_id,
        query=query,
        limit=paging.limit,
        cursor=paging.cursor,
        caller=card_query.Caller(p.token_id, client_ip(request)),
    )
    items = await notices.attach(rt, account_id=p.account_id, cards=page.data)
    return json_response(mapping.listing(items, page))


async def query(request: Request, p: Principal) -> Response:
    data = wire.parse(await request.body())
    q = wire.obj(data, "query", "query") or {}
    native = filters.native(q.get("filter"), "query.filter")
    paging = wire.paging(wire.obj(q, "cursorPaging", "query.cursorPaging"), "query.cursorPaging")
    return await _page(request, p, native, filters.sort(q.get("sort"), "query.sort"), paging)


async def search_cards(request: Request, p: Principal) -> Response:
    data = wire.parse(await request.body())
    s = wire.obj(data, "search", "search") or {}
    native = filters.native(s.get("filter"), "search.filter")
    found = search.native(wire.obj(s, "search", "search.search"), "search.search")
    combined = {"and": [x for x in (native, found) if x]} if native and found else (native or found)
    paging = wire.paging(wire.obj(s, "cursorPaging", "search.cursorPaging"), "search.cursorPaging")
    return await _page(request, p, combined, filters.sort(s.get("sort"), "search.sort"), paging)


async def count(request: Request, p: Principal) -> Response:
    data = wire.parse(await request.body())
    query = card_query.prepare(filters.native(data.get("filter"), "filter"))
    caller = card_query.Caller(p.token_id, client_ip(request))
    found = await card_query.count(get_runtime(request), account_id=p.account_id, query=query, caller=caller)
    return json_response({"count": found})


async def by_email(request: Request, p: Principal) -> Response:
    params = request.query_params
    email = params.get("email")
    if not email:
        raise wire.bad("email", "must not be empty", "REQUIRED_FIELD")
    email = check_email(email, param="email")
    paging = wire.paging(
        {"limit": _int(params.get("cursorPaging.limit")), "cursor": params.get("cursorPaging.cursor")}, "cursorPaging"
    )
    native = {"or": [{"recipient_email": {"eq": email}}, {"sender_email": {"eq": email}}]}
    return await _page(request, p, native, "-created_at", paging)


def _int(value: str | None) -> Any:
    if value is None:
        return None
    return int(value) if value.isdigit() and len(value) < 6 else value


async def disable(request: Request, p: Principal) -> Response:
    wire.parse(await request.body())  # `{}`: nothing to read, but it must be JSON
    gift_card_id = card_id(request)

    async def step(uow: Any) -> notices.Noticed:
        await lifecycle.change_status(uow, account_id=p.account_id, card_id=gift_card_id, action=CardAction.DISABLE)
        return await notices.noticed(uow, account_id=p.account_id, card_id=gift_card_id)

    tx = Tx(request, errors.render_stored({}))
    return await tx.run(p, step, lambda n: Body({"giftCard": mapping.noticed(n)}))


async def send_email(request: Request, p: Principal) -> Response:
    n = wire.notice(wire.parse(await request.body()), "")
    gift_card_id = card_id(request)
    tx = Tx(request, errors.render_stored({}))
    return await tx.run(
        p,
        lambda uow: notices.email(uow, account_id=p.account_id, card_id=gift_card_id, notification=notification(n)),
        lambda _: Body({}),
    )


async def transactions(request: Request, p: Principal) -> Response:
    data = wire.parse(await request.body())
    q = wire.obj(data, "query", "query") or {}
    f = wire.obj(q, "filter", "query.filter", required=True) or {}
    wanted = f.get("giftCardId")
    wanted = wanted.get("$eq") if isinstance(wanted, dict) else wanted
    if not isinstance(wanted, str) or not wanted:
        raise wire.bad("query.filter.giftCardId", "must name one gift card ($eq)", "REQUIRED_FIELD")
    paging = wire.paging(wire.obj(q, "cursorPaging", "query.cursorPaging"), "query.cursorPaging")
    card, page = await notices.transfers(
        get_runtime(request), account_id=p.account_id, card_id=wanted, limit=paging.limit, cursor=paging.cursor
    )
    body = {
        "transactions": [mapping.transaction(t, card) for t in page.data],
        "pagingMetadata": mapping.paging(len(page.data), page),
    }
    return json_response(body)


async def handle(request: Request, scope: str, operation: Operation) -> Response:
    try:
        principal = await authenticate(request, allow_bare=True)
        principal.require(scope)
        return await operation(request, principal)
    except Exception as exc:  # the one place every failure is put into Wix's body
        return errors.respond(exc, request, errors.FIELDS)


def _route(name: str, scope: str, operation: Operation) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handle(request, scope, operation)

    endpoint.__name__ = f"wix_{name}"
    return endpoint


ROUTES = (
    ("/gift-cards", "POST", "create_gift_card", "cards:write", create),
    ("/gift-cards", "GET", "list_gift_cards_by_email", "cards:read", by_email),
    ("/gift-cards/query", "POST", "query_gift_cards", "cards:read", query),
    ("/gift-cards/search", "POST", "search_gift_cards", "cards:read", search_cards),
    ("/gift-cards/count", "POST", "count_gift_cards", "cards:read", count),
    (
        "/gift-cards/transactions/query-gift-card-transactions",
        "POST",
        "query_gift_card_transactions",
        "cards:read",
        transactions,
    ),
    ("/gift-cards/{gift_card_id}", "GET", "get_gift_card", "cards:read", get_card),
    ("/gift-cards/{gift_card_id}/disable", "POST", "disable_gift_card", "cards:write", disable),
    ("/gift-cards/{gift_card_id}/send-email", "POST", "send_gift_card_email", "cards:write", send_email),
)


def create_app(rt: Any) -> FastAPI:
    """The sub-application mounted at `MOUNT`; it shares the runtime (the database, the tokens,
    the clock, the delivery system) with the native API."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.runtime = rt
    errors.install(app)
    for path, method, name, scope, operation in ROUTES:
        app.add_api_route(path, _route(name, scope, operation), methods=[method], name=f"wix.{name}")
    return app
