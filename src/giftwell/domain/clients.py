"""API clients (OAuth 2.0 clients) registration rules (pure).

Redirect URIs are compared by exact string match at the authorization endpoint (RFC 9700
section 4.1.3), so registration is where they are checked: absolute, no fragment, https, or plain
http only on a loopback host (RFC 8252 section 7.3, for native apps and local development).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from giftwell.domain.access import OPERATOR_SCOPES, check_scopes, has_alias
from giftwell.domain.errors import ValidationFailed

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
# A confidential client may authenticate with either secret method; a public one with none.
CONFIDENTIAL_AUTH_METHODS = ("client_secret_post", "client_secret_basic")
PUBLIC_AUTH_METHOD = "none"
MAX_REDIRECT_URIS = 10


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri)
    if len(uri) > 2000 or not parts.scheme or not parts.hostname:
        raise ValidationFailed(f"redirect URI {uri!r} must be an absolute URL", param="redirect_uris")
    if parts.fragment or "#" in uri:
        raise ValidationFailed("a redirect URI must not contain a fragment", param="redirect_uris")
    if parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname)):
        return uri
    raise ValidationFailed(
        "a redirect URI must use https (plain http only on localhost or a loopback address)", param="redirect_uris"
    )


def check_grant_types(grant_types: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if not grant_types:
        raise ValidationFailed("at least one grant type is required", param="grant_types")
    unknown = [g for g in grant_types if g not in GRANT_TYPES]
    if unknown:
        raise ValidationFailed(
            f"unknown grant type(s): {', '.join(unknown)}; known: {', '.join(GRANT_TYPES)}", param="grant_types"
        )
    return tuple(dict.fromkeys(grant_types))


def check_registration(
    *,
    redirect_uris: list[str] | tuple[str, ...],
    scopes: list[str] | tuple[str, ...],
    grant_types: list[str] | tuple[str, ...],
    public: bool,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Validated (redirect_uris, scopes, grant_types) for a new client.

    `authorization_code` needs at least one redirect URI; a public client (no secret) can only
    use the code flow (with PKCE) and refresh tokens, never `client_credentials`. A client given
    WizzGift scope names is registered for WizzGift use: its code exchange always returns a
    refresh token, as the seed's flow does, so `refresh_token` joins `authorization_code`.
    """
    grants = check_grant_types(grant_types)
    if has_alias(scopes) and "authorization_code" in grants and "refresh_token" not in grants:
        grants = (*grants, "refresh_token")
    wanted = check_scopes(scopes)
    if OPERATOR_SCOPES.intersection(wanted):
        raise ValidationFailed("the operator scope cannot be given to an API client", param="scope")
    uris = tuple(dict.fromkeys(check_redirect_uri(u) for u in redirect_uris))
    if len(uris) > MAX_REDIRECT_URIS:
        raise ValidationFailed(f"at most {MAX_REDIRECT_URIS} redirect URIs", param="redirect_uris")
    if "authorization_code" in grants and not uris:
        raise ValidationFailed("the authorization_code grant needs a redirect URI", param="redirect_uris")
    if public and "client_credentials" in grants:
        raise ValidationFailed("a public client cannot use client_credentials", param="grant_types")
    if "refresh_token" in grants and "authorization_code" not in grants:
        raise ValidationFailed("refresh_token is only issued with authorization_code", param="grant_types")
    return uris, wanted, grants
