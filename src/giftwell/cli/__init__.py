"""The `giftwell` command."""
