"""WeGift API v2 dialect (the legacy generation, before Runa's 2023-07-27 version), mounted at
`/v2` (seed 002): orders of choice reward links, their links, the product list. See
docs/dialects/wegift.md."""

from giftwell.dialects.wegift.app import MOUNT, create_app

__all__ = ["MOUNT", "create_app"]
