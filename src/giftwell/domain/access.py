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
    "reports:read": "Read reports: liability, breakage, cards expiring soon",
    "audit:read": "Read the account's audit log of administrative actions",
    "admin": "Operator access across accounts (Giftwell's own staff only)",
    "metrics:read": "Read the Prometheus metrics at /metrics (Giftwell's own staff only)",
}

# The operator scope is never delegated through an account's own clients, users or tokens: only
# the operator's CLI can grant it.
OPERATOR_SCOPES = frozenset({"admin", "metrics:read"})
ACCOUNT_SCOPES = tuple(s for s in SCOPES if s not in OPERATOR_SCOPES)
# What a viewer may delegate: reading, but not the audit log (it names who did what from where).
READ_SCOPES = tuple(s for s in ACCOUNT_SCOPES if s.endswith(":read") and s != "audit:read")

# WizzGift's scope names (seed 000): accepted wherever scopes are given (authorize and token
# requests, `giftwell clients create --scope`, the API, the dashboard) and stored as the native
# scope each stands for. The WizzGift token endpoint names granted scopes back this way.
SCOPE_ALIASES: dict[str, str] = {
    "createOrder": "orders:write",
    "viewOrder": "orders:read",
    "viewProducts": "products:read",
    "account": "account:read",
}
ALIAS_OF: dict[str, str] = {native: alias for alias, native in SCOPE_ALIASES.items()}

ROLES = ("owner", "admin", "viewer")
# What a signed-in user may delegate to an OAuth client: owners and admins everything their
# account can do, viewers only reading.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "owner": frozenset(ACCOUNT_SCOPES),
    "admin": frozenset(ACCOUNT_SCOPES),
    "viewer": frozenset(READ_SCOPES),
}


def native_scope(scope: str) -> str:
    """The native scope a name stands for: itself, or the one a WizzGift name maps onto."""
    return SCOPE_ALIASES.get(scope, scope)


def named_as_asked(asked: str | None, granted: list[str] | tuple[str, ...]) -> list[str]:
    """Each of the `granted` native scopes by the name the request `asked` for it with: its
    WizzGift name if that is how it was asked for (`createOrder`), else its own."""
    names = set((asked or "").split())
    return [ALIAS_OF[s] if ALIAS_OF.get(s) in names else s for s in granted]


def has_alias(scopes: list[str] | tuple[str, ...]) -> bool:
    """Whether any of `scopes` is given by its WizzGift name (a client registered for WizzGift use)."""
    return any(s in SCOPE_ALIASES for s in scopes)


def check_scopes(scopes: list[str] | tuple[str, ...], *, param: str = "scope") -> tuple[str, ...]:
    """Known scopes, WizzGift names mapped onto native ones, without duplicates."""
    if not scopes:
        raise ValidationFailed("at least one scope is required", param=param)
    unknown = [s for s in scopes if native_scope(s) not in SCOPES]
    if unknown:
        known = ", ".join([*SCOPES, *SCOPE_ALIASES])
        raise ValidationFailed(f"unknown scope(s): {', '.join(unknown)}; known: {known}", param=param)
    return tuple(dict.fromkeys(native_scope(s) for s in scopes))


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationFailed(f"unknown role {role!r}; known: {', '.join(ROLES)}", param="role")
    return role


def scope_list(scope: str | None) -> list[str]:
    """Space-separated scope string (RFC 6749 section 3.3) to a list without duplicates, WizzGift
    names mapped onto native scopes."""
    return list(dict.fromkeys(native_scope(s) for s in (scope or "").split()))


def native_scope_string(scope: str) -> str:
    """A scope parameter with WizzGift names mapped onto native scopes (unknown names kept, for
    the OAuth server to refuse as `invalid_scope`)."""
    return " ".join(scope_list(scope)) if scope.strip() else scope


def alias_scope_string(scope: str) -> str:
    """Granted native scopes as the WizzGift token endpoint names them: `account createOrder`.
    Scopes without a WizzGift name keep their native one."""
    return " ".join(ALIAS_OF.get(s, s) for s in scope.split())


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an account, through a token carrying scopes."""

    account_id: str
    token_id: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise InsufficientScope(f"this token lacks the {scope!r} scope", param="scope", required=scope)
