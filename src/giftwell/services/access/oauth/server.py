"""Authlib's authorization server and grants, wired to Giftwell's storage.

Authlib's core is synchronous, so each OAuth request runs it in a worker thread. Its callbacks
(`query_client`, `save_token`, `query_authorization_code`, ...) hand the async storage functions
back to the event loop through the `Bridge` and wait for them. One `UnitOfWork` serves the whole
request, so a token request commits or rolls back as one transaction.

What this module changes from Authlib's defaults, and why:
- secrets, codes and tokens are stored only as keyed hashes (records.py);
- lifetimes come from settings (Authlib gives code-flow access tokens 10 days);
- refresh tokens rotate on every use (`INCLUDE_NEW_REFRESH_TOKEN`) and the response says
  `refresh_token_expires_in`, as the WizzGift seed shows;
- PKCE: S256 only (`plain` refused), and a public client must send a challenge;
- client authentication: `client_secret_post` (the seed), `client_secret_basic`, or `none` for
  public clients; every `invalid_client` answer is a 401.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, InvalidScopeError, OAuth2Error
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge

from giftwell.domain.access import ACCOUNT_SCOPES, native_scope_string
from giftwell.domain.ids import new_id
from giftwell.services.access import users
from giftwell.services.access.oauth import records
from giftwell.store.uow import UnitOfWork

T = TypeVar("T")
# Authlib's grants log the whole token response (access and refresh tokens) at DEBUG: keep its
# loggers above that whatever the application's level, so no token ever reaches a log.
logging.getLogger("authlib").setLevel(logging.INFO)
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class Headers(dict[str, str]):
    """Case-insensitive headers: Authlib reads `headers.get("Authorization")`."""

    def __init__(self, items: Mapping[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in items.items()})

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


@dataclass(frozen=True)
class HttpRequest:
    """A framework-neutral request: what the OAuth endpoints read. `params` holds every value of
    every parameter (query for GET, form or JSON body for POST)."""

    method: str
    uri: str
    headers: Mapping[str, str]
    params: Mapping[str, list[str]]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: dict[str, Any] | str
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "location"), None)


class _Payload(OAuth2Payload):
    def __init__(self, params: Mapping[str, list[str]]) -> None:
        # The first value of each; the authorization endpoint refuses repeats via `datalist`,
        # the token endpoints before the request gets here. A scope given by WizzGift names is
        # read as the native scopes they stand for, before Authlib checks it.
        params = {k: [native_scope_string(x) for x in v] if k == "scope" else v for k, v in params.items()}
        self._data = {k: v[0] for k, v in params.items() if v}
        self._datalist = defaultdict(list, {k: list(v) for k, v in params.items()})

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):
    def __init__(self, req: HttpRequest) -> None:
        super().__init__(req.method, req.uri, headers=Headers(req.headers))
        self.payload = _Payload(req.params)

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


class Bridge:
    """Runs the async storage on the event loop from Authlib's worker thread, in one unit of work."""

    def __init__(self, loop: asyncio.AbstractEventLoop, uow: UnitOfWork) -> None:
        self.loop = loop
        self.uow = uow
        self.outcome = records.Outcome()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


def _bridge(grant: Any) -> Bridge:
    bridge: Bridge = grant.server.bridge
    return bridge


class TokenGenerator(BearerTokenGenerator):
    """Bearer tokens with Giftwell's prefixes and the lifetimes from settings."""

    def __init__(self, access_ttl: int, refresh_ttl: int) -> None:
        super().__init__(
            access_token_generator=lambda **_: records.new_access_token(),
            refresh_token_generator=lambda **_: records.new_refresh_token(),
            expires_generator=access_ttl,
        )
        self.refresh_ttl = refresh_ttl

    def generate(self, grant_type: str, client: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        token: dict[str, Any] = super().generate(grant_type, client, *args, **kwargs)
        if "refresh_token" in token:
            token["refresh_token_expires_in"] = self.refresh_ttl
        return token


class S256CodeChallenge(CodeChallenge):
    """PKCE (RFC 7636) with S256 only; required for public clients at both endpoints."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - Authlib's class attribute
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str | None) -> None:
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if grant.request.client.public and not challenge:
            raise InvalidRequestError("A public client must use PKCE: send code_challenge with S256.")
        if (challenge or method) and method != "S256":
            # RFC 7636 makes a missing method mean `plain`; RFC 9700 says use S256. Refuse both.
            raise InvalidRequestError("Unsupported 'code_challenge_method': use S256.")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        _bridge(self).run(
            records.save_code(
                _bridge(self).uow,
                code=code,
                client=request.client,
                user_id=request.user.id,
                account_id=request.user.account_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
            )
        )

    def query_authorization_code(self, code: str, client: records.Client) -> records.Code | None:
        b = _bridge(self)
        return b.run(records.claim_code(b.uow, code, client, b.outcome))

    def delete_authorization_code(self, authorization_code: records.Code) -> None:
        """Nothing to do: `claim_code` already marked it used, in this same transaction."""

    def authenticate_user(self, authorization_code: records.Code) -> users.UserInfo:
        b = _bridge(self)
        return b.run(users.user_by_id(b.uow, authorization_code.user_id))


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> records.Token | None:
        # Authlib sets request.client before asking, so the claim can refuse another client's
        # token without burning it.
        b = _bridge(self)
        return b.run(records.claim_refresh_token(b.uow, refresh_token, self.request.client, b.outcome))

    def authenticate_user(self, refresh_token: records.Token) -> users.UserInfo | None:
        if refresh_token.user_id is None:
            return None
        b = _bridge(self)
        return b.run(users.user_by_id(b.uow, refresh_token.user_id))

    def revoke_old_credential(self, refresh_token: records.Token) -> None:
        """Nothing to do: the claim already marked the old refresh token used."""


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> records.Token | None:
        b: Bridge = self.server.bridge
        return b.run(records.find_token(b.uow, token_string, token_type_hint))

    def revoke_token(self, token: records.Token, request: Any) -> None:
        b: Bridge = self.server.bridge
        b.run(records.revoke_token(b.uow, token))


class Server(AuthorizationServer):
    """One per OAuth request (it carries that request's bridge); building it is cheap."""

    def __init__(self, bridge: Bridge) -> None:
        super().__init__(scopes_supported=list(ACCOUNT_SCOPES))
        self.bridge = bridge
        settings = bridge.uow.rt.settings
        self.register_token_generator(
            "default", TokenGenerator(settings.access_token_ttl_seconds, settings.refresh_token_ttl_seconds)
        )
        self.register_grant(CodeGrant, [S256CodeChallenge(required=True)])
        self.register_grant(RefreshGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(Revocation)

    def query_client(self, client_id: str) -> records.Client | None:
        return self.bridge.run(records.load_client(self.bridge.uow, client_id))

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        client: records.Client = request.client
        code: records.Code | None = request.authorization_code
        previous: records.Token | None = request.refresh_token
        user_id: str | None
        refresh_scope: str | None
        if code is not None:
            account_id, user_id, family_id, refresh_scope = code.account_id, code.user_id, code.family_id, None
        elif previous is not None:
            account_id, user_id = previous.account_id, previous.user_id
            family_id, refresh_scope = previous.family_id or new_id("fam"), previous.scope
        else:
            account_id, user_id, family_id, refresh_scope = client.account_id, None, new_id("fam"), None
        self.bridge.run(
            records.save_tokens(
                self.bridge.uow,
                token,
                client=client,
                account_id=account_id,
                user_id=user_id,
                family_id=family_id,
                refresh_scope=refresh_scope,
            )
        )

    def validate_requested_scope(self, scope: str | None) -> None:
        if scope is not None and not scope.split():
            raise InvalidScopeError("The 'scope' parameter is empty.")
        super().validate_requested_scope(scope)

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return _Request(request)

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> HttpResponse:
        return HttpResponse(status, body, list(headers))

    def handle_error_response(self, request: Any, error: OAuth2Error) -> HttpResponse:
        if isinstance(error, InvalidClientError):
            # RFC 6749 section 5.2 allows 400; a 401 with a challenge is what clients expect.
            error.status_code = 401
        response: HttpResponse = super().handle_error_response(request, error)
        return response

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's signals: nothing listens."""
