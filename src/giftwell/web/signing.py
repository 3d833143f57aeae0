"""`/dashboard/developers/signing-keys`: the public keys of clients that sign their own requests
(the Wpay dialect's ES256 JWTs), the dashboard's `giftwell clients add-key` and
`/v1/signing-keys`.

As in the API, the operator registers keys: its owners and admins choose an account, paste an EC
P-256 public key in PEM under a key id (a new client and its `apiClientId`, or a second key of an
existing client for a rotation), and revoke keys. Every other account's users see their own keys,
read-only, with the `apiClientId` to put in their tokens. A private key is refused by the service
and never stored or shown.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from giftwell.domain.errors import GiftwellError, ValidationFailed
from giftwell.domain.signing import DEFAULT_SCOPES
from giftwell.http.request import get_runtime
from giftwell.services.access import accounts, signing_keys
from giftwell.store.uow import UnitOfWork
from giftwell.web.pages import Viewer, done, field, render, run_action, viewer

router = APIRouter(include_in_schema=False)
PATH = "/dashboard/developers/signing-keys"


async def _page(
    request: Request, v: Viewer, account_id: str, form: dict[str, str] | None = None, error: str | None = None
) -> Response:
    choices: list[accounts.AccountInfo] = []
    async with get_runtime(request).reader() as uow:
        if v.operator:
            choices = await accounts.list_accounts(uow)
        if account_id not in {a.id for a in choices} | {v.account.id}:
            account_id, error = v.account.id, error or "no such account"
        keys = await signing_keys.list_keys(uow, account_id=account_id)
    clients = sorted({k.api_client_id: k.name for k in keys if k.active}.items(), key=lambda c: c[1])
    context: dict[str, Any] = {
        "account": account_id,
        "accounts": choices,
        "keys": keys,
        "clients": clients,
        "form": form or {},
        "error": error,
        "default_scopes": " ".join(DEFAULT_SCOPES),
    }
    return render(request, v, "signing_keys.html", context, 422 if error else 200)


@router.get(PATH)
async def keys_page(request: Request) -> Response:
    v = await viewer(request)
    if isinstance(v, Response):
        return v
    wanted = request.query_params.get("account", "").strip() if v.operator else ""
    return await _page(request, v, wanted or v.account.id)


@router.post(PATH)
async def add_key(request: Request) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        account_id = field(form, "account")
        if not account_id:
            raise ValidationFailed("choose an account", param="account")
        scopes = field(form, "scopes").split()
        key = await signing_keys.add_key(
            uow,
            account_id=account_id,
            kid=field(form, "kid"),
            public_key=field(form, "public_key"),
            api_client_id=field(form, "api_client_id") or None,
            scopes=scopes or None,
            name=field(form, "name") or None,
        )
        return done(PATH, "key_added", account=key.account_id)

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        form = {k: x for k, x in (await request.form()).items() if isinstance(x, str) and k != "csrf"}
        if "PRIVATE KEY" in form.get("public_key", ""):
            form["public_key"] = ""  # a private key pasted by mistake is not shown back
        return await _page(request, v, form.get("account") or v.account.id, form, exc.message)

    return await run_action(request, operator=True, work=work, on_error=on_error)


@router.post(PATH + "/{kid}/revoke")
async def revoke_key(request: Request, kid: str) -> Response:
    async def work(uow: UnitOfWork, v: Viewer, form: FormData) -> Response:
        key = await signing_keys.revoke_key(uow, kid=kid)
        return done(PATH, "revoked", account=key.account_id)

    async def on_error(v: Viewer, exc: GiftwellError) -> Response:
        form = await request.form()
        return await _page(request, v, field(form, "account") or v.account.id, None, exc.message)

    return await run_action(request, operator=True, work=work, on_error=on_error)
