"""Wix Gift Cards v1 dialect, mounted at `/gift-cards/v1` (seed 001)."""

from giftwell.dialects.wix.app import MOUNT, create_app

__all__ = ["MOUNT", "create_app"]
