"""Accounts, personal tokens, dashboard users, OAuth clients and signing keys."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from giftwell.cli.common import JsonOpt, run
from giftwell.cli.output import emit, fail
from giftwell.domain.errors import NotFound
from giftwell.services.access import accounts, clients, signing_keys, tokens, users
from giftwell.store.uow import UnitOfWork

accounts_app = typer.Typer(help="Accounts (tenants).", no_args_is_help=True)


tokens_app = typer.Typer(help="Personal API tokens.", no_args_is_help=True)


users_app = typer.Typer(help="Users who sign in to the dashboard.", no_args_is_help=True)


clients_app = typer.Typer(
    help="OAuth API clients, and the keys of clients that sign their requests.", no_args_is_help=True
)


@accounts_app.command("create")
def accounts_create(
    name: str,
    operator: Annotated[
        bool, typer.Option("--operator", help="The operator's own account (issues house products; may hold admin).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an account."""
    acct = run(lambda rt: rt.transact(lambda uow: accounts.create_account(uow, name=name, operator=operator)), as_json)
    emit(
        {"id": acct.id, "name": acct.name, "is_operator": acct.is_operator, "created_at": acct.created_at.isoformat()},
        as_json,
        lambda d: f"{'operator ' if d['is_operator'] else ''}account {d['name']} created: {d['id']}",
    )


@accounts_app.command("expiry-policy")
def accounts_expiry_policy(
    name: str,
    min_days: Annotated[
        int | None, typer.Option(help="No card may expire sooner than this many days after issue.")
    ] = None,
    rule: Annotated[
        str | None, typer.Option(help='The rule\'s name, quoted in the error ("US CARD Act: 5 years").')
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the policy.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set (or --clear) the expiry policy the account's cards are issued under."""
    from giftwell.domain.expiry_policy import check_policy

    if clear == (min_days is not None or rule is not None):
        fail("give --min-days and --rule, or --clear", as_json, code=2)

    async def change(uow: UnitOfWork) -> accounts.AccountInfo:
        policy = None if clear else check_policy({"min_days": min_days, "rule": rule}, param="policy")
        acct = await accounts.account_by_name(uow, name)
        return await accounts.set_expiry_policy(uow, account_id=acct.id, policy=policy)

    acct = run(lambda rt: rt.transact(change), as_json)
    p = acct.expiry_policy
    emit(
        {"id": acct.id, "name": acct.name, "expiry_policy": p.as_dict() if p else None},
        as_json,
        lambda d: (
            f"{d['name']}: no expiry policy"
            if p is None
            else f"{d['name']}: cards must live at least {p.min_days} days ({p.rule})"
        ),
    )


@tokens_app.command("create")
def tokens_create(
    account: Annotated[str, typer.Option(help="Account name.")],
    scope: Annotated[list[str], typer.Option(help="A scope; repeat for several.")],
    name: Annotated[str | None, typer.Option(help="A label for the token.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a personal API token (shown once)."""

    async def create(uow: UnitOfWork) -> tokens.NewToken:
        acct = await accounts.account_by_name(uow, account)
        return await tokens.create_token(uow, account_id=acct.id, scopes=scope, name=name)

    tok = run(lambda rt: rt.transact(create), as_json)
    emit(
        {"token": tok.token, "id": tok.id, "account_id": tok.account_id, "scopes": list(tok.scopes)},
        as_json,
        lambda d: f"{d['token']}\n(shown once; scopes: {' '.join(d['scopes'])})",
    )


@users_app.command("create")
def users_create(
    account: Annotated[str, typer.Option(help="Account name.")],
    email: Annotated[str, typer.Option(help="The user's email (their sign-in name).")],
    role: Annotated[str, typer.Option(help="owner, admin or viewer.")] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a user. The password is read from stdin (never an argument: it would show in `ps`)."""
    if not password_stdin:
        fail("pass --password-stdin and the password on standard input", as_json, code=2)
    password = sys.stdin.readline().rstrip("\r\n")

    async def create(uow: UnitOfWork) -> users.UserInfo:
        acct = await accounts.account_by_name(uow, account)
        return await users.create_user(uow, account_id=acct.id, email=email, password=password, role=role)

    user = run(lambda rt: rt.transact(create), as_json)
    emit(
        {"id": user.id, "account_id": user.account_id, "email": user.email, "role": user.role},
        as_json,
        lambda d: f"user {d['email']} ({d['role']}) created: {d['id']}",
    )


@users_app.command("set-role")
def users_set_role(
    account: Annotated[str, typer.Option(help="Account name.")],
    email: Annotated[str, typer.Option(help="The user's email.")],
    role: Annotated[str, typer.Option(help="owner, admin or viewer.")],
    as_json: JsonOpt = False,
) -> None:
    """Give a user another role (recorded in the audit log)."""

    async def change(uow: UnitOfWork) -> users.UserInfo:
        acct = await accounts.account_by_name(uow, account)
        return await users.change_role(uow, account_id=acct.id, email=email, role=role)

    user = run(lambda rt: rt.transact(change), as_json)
    emit(
        {"id": user.id, "account_id": user.account_id, "email": user.email, "role": user.role},
        as_json,
        lambda d: f"user {d['email']} is now {d['role']}",
    )


def _client_out(new: clients.NewClient) -> dict[str, Any]:
    c = new.client
    return {
        "client_id": c.client_id,
        "client_secret": new.client_secret,
        "name": c.name,
        "redirect_uris": list(c.redirect_uris),
        "scopes": list(c.scopes),
        "grant_types": list(c.grant_types),
        "token_endpoint_auth_method": c.token_endpoint_auth_method,
    }


def _client_human(d: dict[str, Any]) -> str:
    secret = d["client_secret"] or "(none: a public client, use PKCE)"
    return f"client_id:     {d['client_id']}\nclient_secret: {secret}\n(the secret is shown once; store it now)"


@clients_app.command("create")
def clients_create(
    account: Annotated[str, typer.Option(help="Account name.")],
    name: Annotated[str, typer.Option(help="A name people recognise on the consent page.")],
    scope: Annotated[list[str], typer.Option(help="A scope; repeat for several.")],
    redirect_uri: Annotated[
        list[str] | None, typer.Option(help="A redirect URI (exact match); repeat for several.")
    ] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option(help="authorization_code, refresh_token or client_credentials; repeat. Default: code + refresh."),
    ] = None,
    public: Annotated[bool, typer.Option("--public", help="A public client: no secret, PKCE required.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Register an API client and print its client_id and secret (shown once)."""
    grants = grant or ["authorization_code", "refresh_token"]

    async def create(uow: UnitOfWork) -> clients.NewClient:
        acct = await accounts.account_by_name(uow, account)
        return await clients.create_client(
            uow,
            account_id=acct.id,
            name=name,
            redirect_uris=redirect_uri or [],
            scopes=scope,
            grant_types=grants,
            public=public,
        )

    emit(_client_out(run(lambda rt: rt.transact(create), as_json)), as_json, _client_human)


@clients_app.command("rotate-secret")
def clients_rotate_secret(client_id: str, as_json: JsonOpt = False) -> None:
    """Give a client a new secret (shown once); the old one stops working at once."""
    from giftwell.store.models import OAuthClient

    async def rotate(uow: UnitOfWork) -> clients.NewClient:
        # The operator's CLI acts across accounts: find the client's account first.
        import sqlalchemy as sa

        row = (
            await uow.conn.execute(sa.select(OAuthClient.account_id).where(OAuthClient.client_id == client_id))
        ).first()
        if row is None:
            raise NotFound("no such client", param="client_id")
        return await clients.rotate_secret(uow, account_id=row.account_id, client_id=client_id)

    emit(_client_out(run(lambda rt: rt.transact(rotate), as_json)), as_json, _client_human)


def _key_out(k: signing_keys.SigningKeyInfo) -> dict[str, Any]:
    return {
        "kid": k.kid,
        "api_client_id": k.api_client_id,
        "account_id": k.account_id,
        "name": k.name,
        "scopes": list(k.scopes),
        "thumbprint": k.thumbprint,
        "created_at": k.created_at.isoformat(),
        "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
    }


def _key_human(d: dict[str, Any]) -> str:
    state = f"revoked {d['revoked_at'][:19]}" if d["revoked_at"] else "active"
    return f"apiClientId: {d['api_client_id']}\nkid:         {d['kid']} ({state})\nscopes:      {' '.join(d['scopes'])}"


@clients_app.command("add-key")
def clients_add_key(
    account: Annotated[str, typer.Option(help="Account name.")],
    kid: Annotated[str, typer.Option(help="The key id the client puts in its JWT header (case-sensitive).")],
    public_key: Annotated[Path, typer.Option(help="The client's EC P-256 public key, PEM.", dir_okay=False)],
    api_client_id: Annotated[
        str | None, typer.Option(help="Add the key to this existing apiClientId (a rotation) instead of a new one.")
    ] = None,
    scope: Annotated[
        list[str] | None, typer.Option(help="A scope of a new client; repeat. Default: orders and products.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A label for a new client.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a client's public key for signed requests (the Wpay dialect); prints its apiClientId."""
    try:
        pem = public_key.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {public_key}: {exc}", as_json, code=2)

    async def add(uow: UnitOfWork) -> signing_keys.SigningKeyInfo:
        acct = await accounts.account_by_name(uow, account)
        return await signing_keys.add_key(
            uow, account_id=acct.id, kid=kid, public_key=pem, api_client_id=api_client_id, scopes=scope, name=name
        )

    emit(_key_out(run(lambda rt: rt.transact(add), as_json)), as_json, _key_human)


@clients_app.command("list-keys")
def clients_list_keys(account: Annotated[str, typer.Option(help="Account name.")], as_json: JsonOpt = False) -> None:
    """An account's signing keys, newest first, revoked ones included."""

    async def find(uow: UnitOfWork) -> list[signing_keys.SigningKeyInfo]:
        acct = await accounts.account_by_name(uow, account)
        return await signing_keys.list_keys(uow, account_id=acct.id)

    found = [_key_out(k) for k in run(lambda rt: rt.transact(find), as_json)]
    emit(found, as_json, lambda d: "\n\n".join(_key_human(k) for k in d) or "no keys")


@clients_app.command("revoke-key")
def clients_revoke_key(kid: str, as_json: JsonOpt = False) -> None:
    """Revoke a signing key: tokens signed with it are refused from now on."""
    found = run(lambda rt: rt.transact(lambda uow: signing_keys.revoke_key(uow, kid=kid)), as_json)
    emit(_key_out(found), as_json, _key_human)
