"""Giftcards B2B (Laravel Sanctum) dialect, mounted at `/api/giftcards` (seed 004)."""

from giftwell.dialects.sanctum.app import MOUNT, create_app

__all__ = ["MOUNT", "create_app"]
