"""The OAuth 2.0 authorization server: the use cases behind /oauth/* and the metadata document.

Each function opens one unit of work, runs Authlib in a worker thread (server.py) and answers
with a framework-neutral `HttpResponse` that the web layer renders as it is. Authlib's errors are
already RFC 6749's (`invalid_grant`, `invalid_client`, ...), so nothing here maps errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidScopeError, OAuth2Error

from giftwell.domain.access import ACCOUNT_SCOPES, ROLE_SCOPES, SCOPES, named_as_asked, scope_list
from giftwell.domain.clients import GRANT_TYPES
from giftwell.services.access.oauth.server import AUTH_METHODS, HttpRequest, HttpResponse, Server
from giftwell.services.access.oauth.server import Bridge as _Bridge
from giftwell.services.access.users import UserInfo
from giftwell.services.runtime import Runtime
from giftwell.settings import Settings

__all__ = [
    "Consent",
    "HttpRequest",
    "HttpResponse",
    "check_authorization",
    "decide_authorization",
    "metadata",
    "revocation_response",
    "token_response",
]


@dataclass(frozen=True, slots=True)
class Consent:
    """A valid authorization request, for the consent page."""

    client_id: str
    client_name: str
    # (the scope by the name the client asked for it, what it allows, the native scope): a
    # WizzGift client's `createOrder` is shown as such, beside the `orders:write` it stands for.
    scopes: tuple[tuple[str, str, str], ...]
    redirect_uri: str
    params: dict[str, str]  # the request's parameters, echoed by the consent form


def _repeated(req: HttpRequest) -> HttpResponse | None:
    repeated = sorted(k for k, v in req.params.items() if len(v) > 1)
    if not repeated:
        return None
    # RFC 6749 section 3.2: request parameters MUST NOT be included more than once.
    body = {"error": "invalid_request", "error_description": f"Repeated parameter: {', '.join(repeated)}"}
    return HttpResponse(400, body, list(default_json_headers))


def _missing_grant_type(req: HttpRequest) -> HttpResponse | None:
    if any(v.strip() for v in req.params.get("grant_type", [])):
        return None
    # RFC 6749 section 5.2: a missing required parameter is invalid_request (Authlib would answer
    # unsupported_grant_type, which says the server does not know the grant named).
    body = {"error": "invalid_request", "error_description": "Missing grant_type parameter."}
    return HttpResponse(400, body, list(default_json_headers))


async def _run(rt: Runtime, fn: Callable[[Server], HttpResponse], *, commit: Callable[[HttpResponse], bool]) -> Any:
    loop = asyncio.get_running_loop()
    async with rt.uow() as uow:
        bridge = _Bridge(loop, uow)
        server = Server(bridge)
        result = await anyio.to_thread.run_sync(fn, server)
        if commit(result) or bridge.outcome.commit_on_error:
            await uow.commit()
    return result


def _ok(resp: HttpResponse) -> bool:
    return resp.status < 400


async def token_response(rt: Runtime, req: HttpRequest) -> HttpResponse:
    """POST /oauth/token: authorization_code, refresh_token and client_credentials grants."""
    bad = _repeated(req) or _missing_grant_type(req)
    if bad is not None:
        return bad
    resp: HttpResponse = await _run(rt, lambda server: server.create_token_response(req), commit=_ok)
    return resp


async def revocation_response(rt: Runtime, req: HttpRequest) -> HttpResponse:
    """POST /oauth/revoke (RFC 7009): 200 whether or not the token existed."""
    bad = _repeated(req)
    if bad is not None:
        return bad
    resp: HttpResponse = await _run(rt, lambda server: server.create_endpoint_response("revocation", req), commit=_ok)
    return resp


def _check_user(grant: Any, user: UserInfo) -> None:
    """Beyond Authlib's checks: the client must belong to the user's account (a client acts for
    its own account's data only), and a user delegates no more than their role allows."""
    request = grant.request
    if request.client.account_id != user.account_id:
        raise AccessDeniedError("This client belongs to another account.", redirect_uri=grant.redirect_uri)
    beyond = [s for s in scope_list(request.scope) if s not in ROLE_SCOPES.get(user.role, frozenset())]
    if beyond:
        raise InvalidScopeError(f"Your role cannot grant: {' '.join(beyond)}", redirect_uri=grant.redirect_uri)


def _validated(server: Server, req: HttpRequest, user: UserInfo) -> Any:
    grant = server.get_consent_grant(req, end_user=user)
    try:
        _check_user(grant, user)
    except OAuth2Error as error:
        error.state = grant.request.payload.state
        raise
    return grant


def _error(server: Server, error: OAuth2Error) -> HttpResponse:
    """With a validated redirect URI: the RFC's redirect back to the client. Without one (unknown
    client, unregistered redirect URI): a 400 for the page to show, never a redirect."""
    status, body, headers = error()
    return HttpResponse(status, body, list(headers))


async def check_authorization(rt: Runtime, req: HttpRequest, user: UserInfo) -> Consent | HttpResponse:
    """GET /oauth/authorize for a signed-in user: the consent to ask for, or the error answer."""

    def check(server: Server) -> Consent | HttpResponse:
        try:
            grant = _validated(server, req, user)
        except OAuth2Error as error:
            return _error(server, error)
        request = grant.request
        params = {k: v for k, v in request.payload.data.items() if k not in {"csrf", "decision"}}
        granted = scope_list(request.scope)
        named = named_as_asked((req.params.get("scope") or [""])[0], granted)
        return Consent(
            client_id=request.client.client_id,
            client_name=request.client.name,
            scopes=tuple((name, SCOPES[s], s) for name, s in zip(named, granted, strict=True)),
            redirect_uri=grant.redirect_uri,
            params=params,
        )

    result: Consent | HttpResponse = await _run(rt, check, commit=lambda _: False)  # type: ignore[arg-type]
    return result


async def decide_authorization(rt: Runtime, req: HttpRequest, user: UserInfo, *, approve: bool) -> HttpResponse:
    """POST /oauth/authorize: the user's decision. The request is validated again (nothing on
    the consent form is trusted); approval stores a code and redirects with it and `state`,
    denial redirects with `error=access_denied`."""

    def decide(server: Server) -> HttpResponse:
        try:
            grant = _validated(server, req, user)
        except OAuth2Error as error:
            return _error(server, error)
        resp: HttpResponse = server.create_authorization_response(
            grant.request, grant_user=user if approve else None, grant=grant
        )
        return resp

    resp: HttpResponse = await _run(rt, decide, commit=lambda r: approve and r.status == 302)
    return resp


def metadata(settings: Settings) -> dict[str, Any]:
    """The RFC 8414 authorization server metadata."""
    base = settings.base_url
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "scopes_supported": list(ACCOUNT_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
    }
