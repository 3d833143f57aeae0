"""WizzGift B2B dialect, mounted at `/api/b2b` (seed 000): OAuth on the one OAuth server, the
catalog, orders by reference, and the order webhook body (`webhook.py`, registered by the
composition root). See docs/dialects/wizzgift.md."""

from giftwell.dialects.wizzgift.app import MOUNT, create_app

__all__ = ["MOUNT", "create_app"]
