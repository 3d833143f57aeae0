"""Wpay (Woolworths) Gifting, GCO client API: client-signed ES256 JWTs, Submit Order with
managed or self-managed fulfilment, order status, reversal; mounted at
`/gifting/gco/client/api/v1` (seed 003). See docs/dialects/wpay.md."""

from giftwell.dialects.wpay.app import MOUNT, create_app

__all__ = ["MOUNT", "create_app"]
