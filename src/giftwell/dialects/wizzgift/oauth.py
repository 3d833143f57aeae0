"""OAuth 2.0 on `/api/b2b/oauth/...`, on the one OAuth server (`services.access.oauth`).

- `GET /oauth/authorize` redirects to Giftwell's own `/oauth/authorize` with the same query: the
  same sign-in and consent pages, the same checks. WizzGift scope names in `scope` are read as
  the native scopes they stand for.
- `POST /oauth/token` takes the seed's JSON body or a form body (`http.oauth.body_params`) for
  `authorization_code`, `refresh_token` and `client_credentials`, and answers the seed's bodies:
  the code exchange `{access_token, refresh_token, token_type, expires_in, scope}`, the refresh
  the same with `refresh_token_expires_in` before `scope`, the scopes named the seed's way
  (`"account createOrder"`). Failures are the seed's envelope with the RFC 6749 code beside it,
  `{"success": false, "message": ..., "error": "invalid_grant"}`: 401 for `invalid_client`, 400
  for the others, 429 past the per-address limit.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from giftwell.dialects.wizzgift.errors import failure
from giftwell.domain.access import alias_scope_string
from giftwell.http.decimal_json import json_response
from giftwell.http.limits import ip_limited
from giftwell.http.oauth import BadBody, body_params, oauth_request
from giftwell.http.request import get_runtime
from giftwell.services.access import oauth

# The seed's member order; the code exchange has no refresh_token_expires_in.
TOKEN_MEMBERS = ("access_token", "refresh_token", "token_type", "expires_in", "refresh_token_expires_in", "scope")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def authorize(request: Request) -> Response:
    query = request.url.query
    return RedirectResponse("/oauth/authorize" + (f"?{query}" if query else ""), status_code=302)


def token_body(body: dict[str, Any], grant_type: str) -> dict[str, Any]:
    """A successful token response the seed's way (pure)."""
    out = {k: body[k] for k in TOKEN_MEMBERS if k in body}
    if grant_type == "authorization_code":
        out.pop("refresh_token_expires_in", None)
    if isinstance(out.get("scope"), str):
        out["scope"] = alias_scope_string(out["scope"])
    return out


def _error(resp: oauth.HttpResponse) -> Response:
    body = resp.body if isinstance(resp.body, dict) else {}
    code = str(body.get("error") or "invalid_request")
    message = str(body.get("error_description") or code.replace("_", " "))
    status = 401 if code == "invalid_client" else 400
    headers = {**NO_STORE, **{k: v for k, v in resp.headers if k.lower() == "www-authenticate"}}
    return json_response({"success": False, "message": message, "error": code}, status, headers)


async def token(request: Request) -> Response:
    if (limited := await ip_limited(request)) is not None:
        return failure("Too many requests; retry later.", 429, {**NO_STORE, "Retry-After": str(limited.retry_after)})
    try:
        params = await body_params(request)
    except BadBody as exc:
        body = {"success": False, "message": str(exc), "error": "invalid_request"}
        return json_response(body, 400, NO_STORE)
    resp = await oauth.token_response(get_runtime(request), oauth_request(request, params))
    if resp.status >= 400 or not isinstance(resp.body, dict):
        return _error(resp)
    grant_type = (params.get("grant_type") or [""])[0]
    return json_response(token_body(resp.body, grant_type), 200, NO_STORE)
