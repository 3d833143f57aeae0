"""Upstream suppliers: other WizzGift-compatible APIs (another Giftwell, say) whose products the
operator sells. `config` keeps their settings and credentials (encrypted), `tokens` their OAuth
tokens (rotated on every refresh, one refresh in flight at a time), `sync` their catalogs. The
purchases themselves are `orders.upstream`'s."""
