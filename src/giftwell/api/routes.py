"""The native API: its description and routers, installed on the application by the composition
root (`giftwell.app`)."""

from __future__ import annotations

from fastapi import FastAPI

from giftwell.api import errors, oauth
from giftwell.api.v1 import (
    account,
    audit,
    card_query,
    cards,
    clients,
    funding,
    orders,
    ping,
    products,
    reports,
    signing_keys,
    suppliers,
    transfers,
    webhooks,
)

DESCRIPTION = """Giftwell's native API.

Authenticate with `Authorization: Bearer <token>` (create one with `giftwell tokens create`).
Amounts are integers in the currency's minor units (EUR cents; JPY has none; KWD has three).
Every POST honours `Idempotency-Key`. Errors have the shape
`{"error": {"type", "code", "message", "param", "request_id"}}`.

Webhooks (`/v1/webhook-endpoints`, `/v1/events`) are signed twice: `X-Signature` (hex HMAC-SHA256
of the body keyed with the `whsec_...` string) and the Standard Webhooks headers `webhook-id`,
`webhook-timestamp`, `webhook-signature`; retried for about three days. See docs/webhooks.md.

Dialects are mounted beside it, with their vendors' wire formats: the Giftcards B2B (Sanctum) API
at `/api/giftcards`, Wpay's Gifting GCO client API at `/gifting/gco/client/api/v1`, whose
clients sign their requests with keys the operator registers at `/v1/signing-keys`, and Wix's Gift
Cards API v1 at `/gift-cards/v1`. See docs/api.md and docs/dialects/.
"""


def install(app: FastAPI) -> None:
    """The native error envelope as the application's error handler, and every native router."""
    errors.install(app)
    # FastAPI matches routes in order, one by one: the token check (/v1/ping, what clients poll)
    # and the cards (the hot paths) first.
    for router in (
        ping.router,
        card_query.router,
        cards.router,
        transfers.router,
        clients.router,
        signing_keys.router,
        products.router,
        suppliers.router,
        suppliers.hooks,
        account.router,
        funding.router,
        orders.router,
        webhooks.endpoints,
        webhooks.events_router,
        reports.router,
        audit.router,
        oauth.router,
    ):
        app.include_router(router)
