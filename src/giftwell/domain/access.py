"""Scopes and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass

from giftwell.domain.errors import InsufficientScope, ValidationFailed

SCOPES: dict[str, str] = {
    "cards:read": "Read cards and their transfers",
    "cards:write": "Issue cards, change their state and adjust them",
    "cards:redeem": "Redeem, hold, capture, void and refund",
    "orders:read": "Read orders and their items",
    "orders:write": "Place and cancel orders",
    "products:read": "Browse the catalog of brands and products",
    "account:read": "Read the account, its users and API clients",
    "account:write": "Manage the account's users and API clients",
    "webhooks:write": "Register and change webhook endpoints",
    "admin": "Operator access across accounts (Giftwell's own staff only)",
    "metrics:read": "Read the Prometheus metrics at /metrics (Giftwell's own staff only)",
}

# The operator scope is never delegated through an account's own clients, users or tokens: only
# the operator's CLI can grant it.
OPERATOR_SCOPES = frozenset({"admin", "metrics:read"})
ACCOUNT_SCOPES = tuple(s for s in SCOPES if s not in OPERATOR_SCOPES)
READ_SCOPES = tuple(s for s in ACCOUNT_SCOPES if s.endswith(":read"))

ROLES = ("owner", "admin", "viewer")
# What a signed-in user may delegate to an OAuth client: owners and admins everything their
# account can do, viewers only reading.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "owner": frozenset(ACCOUNT_SCOPES),
    "admin": frozenset(ACCOUNT_SCOPES),
    "viewer": frozenset(READ_SCOPES),
}


def check_scopes(scopes: list[str] | tuple[str, ...], *, param: str = "scope") -> tuple[str, ...]:
    if not scopes:
        raise ValidationFailed("at least one scope is required", param=param)
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValidationFailed(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}", param=param)
    return tuple(dict.fromkeys(scopes))


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationFailed(f"unknown role {role!r}; known: {', '.join(ROLES)}", param="role")
    return role


def scope_list(scope: str | None) -> list[str]:
    """Space-separated scope string (RFC 6749 section 3.3) to a list without duplicates."""
    return list(dict.fromkeys((scope or "").split()))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an account, through a token carrying scopes."""

    account_id: str
    token_id: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise InsufficientScope(f"this token lacks the {scope!r} scope", param="scope", required=scope)
