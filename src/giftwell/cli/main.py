"""`giftwell`: serve, migrate, manage accounts and tokens, verify the ledger."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import DBAPIError

from giftwell.cli import jobs as jobs_cli
from giftwell.cli.output import emit, fail
from giftwell.domain.errors import GiftwellError, NotFound
from giftwell.domain.guessing import DEFAULT_ATTACKERS
from giftwell.services.access import accounts as acce_accounts
from giftwell.services.access import clients, guessing, tokens, users
from giftwell.services.cards import reads as cards
from giftwell.services.ledger import verify
from giftwell.services.runtime import Runtime
from giftwell.settings import Settings, SettingsError, load_settings
from giftwell.store import migrate
from giftwell.store.uow import UnitOfWork

T = TypeVar("T")
app = typer.Typer(help="Giftwell: gift cards on a double-entry ledger.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts (tenants).", no_args_is_help=True)
tokens_app = typer.Typer(help="Personal API tokens.", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger.", no_args_is_help=True)
users_app = typer.Typer(help="Users who sign in to the dashboard.", no_args_is_help=True)
clients_app = typer.Typer(help="OAuth API clients.", no_args_is_help=True)
codes_app = typer.Typer(help="Card codes.", no_args_is_help=True)
products_app = typer.Typer(help="The catalog of products.", no_args_is_help=True)
funding_app = typer.Typer(help="Accounts' prepaid funding balances.", no_args_is_help=True)
outbox_app = typer.Typer(help="Messages written to the outbox folder instead of sent.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(tokens_app, name="tokens")
app.add_typer(ledger_app, name="ledger")
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.add_typer(jobs_cli.jobs_app, name="jobs")
app.add_typer(codes_app, name="codes")
app.add_typer(products_app, name="products")
app.add_typer(funding_app, name="funding")
app.add_typer(outbox_app, name="outbox")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
DEMO_ACCOUNT = "demo"
DEMO_SCOPES = ["cards:read", "cards:write", "cards:redeem"]


def _settings(as_json: bool = False) -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc), as_json, code=2)
    _logging(settings)
    return settings


def _logging(settings: Settings, *, json_logs: bool = False) -> None:
    if json_logs:
        from giftwell.cli.output import JsonLogFormatter

        handler = logging.StreamHandler()
        handler.setFormatter(JsonLogFormatter())
        logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])
    else:
        logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic narrates every start at INFO; only its warnings matter to an operator.
    logging.getLogger("alembic").setLevel(logging.WARNING)


async def _ready(rt: Runtime) -> None:
    """Embedded default: bring the schema up to date. Elsewhere: refuse an old schema."""
    if rt.settings.embedded:
        rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate.upgrade(rt.engine)
        return
    current, head = await migrate.current_revision(rt.engine), migrate.head_revision()
    if current != head:
        raise GiftwellError(f"database schema is at {current}, not {head}: run `giftwell db upgrade`")


def _run(fn: Callable[[Runtime], Awaitable[T]], as_json: bool) -> T:
    settings = _settings(as_json)

    async def main() -> T:
        rt = Runtime(settings)
        try:
            await _ready(rt)
            return await fn(rt)
        finally:
            await rt.close()

    try:
        return asyncio.run(main())
    except GiftwellError as exc:
        fail(exc, as_json)
    except (DBAPIError, OSError) as exc:
        # The database is down, unreachable or refuses us: one line, not a traceback.
        fail(f"database error: {_first_line(exc)}", as_json, code=2)


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


async def _in_tx(rt: Runtime, fn: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    async with rt.uow() as uow:
        result = await fn(uow)
        await uow.commit()
        return result


@db_app.command("upgrade")
def db_upgrade(as_json: JsonOpt = False) -> None:
    """Apply the migrations (creates the schema on an empty database)."""
    settings = _settings(as_json)

    async def main() -> dict[str, Any]:
        rt = Runtime(settings)
        try:
            if settings.embedded:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
            await migrate.upgrade(rt.engine)
            return {"revision": await migrate.current_revision(rt.engine)}
        finally:
            await rt.close()

    emit(asyncio.run(main()), as_json, lambda d: f"database at revision {d['revision']}")


@accounts_app.command("create")
def accounts_create(
    name: str,
    operator: Annotated[
        bool, typer.Option("--operator", help="The operator's own account (issues house products; may hold admin).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an account."""
    acct = _run(
        lambda rt: _in_tx(rt, lambda uow: acce_accounts.create_account(uow, name=name, operator=operator)), as_json
    )
    emit(
        {"id": acct.id, "name": acct.name, "is_operator": acct.is_operator, "created_at": acct.created_at.isoformat()},
        as_json,
        lambda d: f"{'operator ' if d['is_operator'] else ''}account {d['name']} created: {d['id']}",
    )


@products_app.command("import")
def products_import(
    file: Annotated[Path, typer.Argument(help="A JSON file holding a list of products in the API's shape.")],
    as_json: JsonOpt = False,
) -> None:
    """Add or replace products (an upsert by id), all in one transaction."""
    import json

    from giftwell.services.orders import catalog

    try:
        items = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        fail(f"cannot read {file}: {exc}", as_json, code=2)
    saved = _run(lambda rt: _in_tx(rt, lambda uow: catalog.import_products(uow, items)), as_json)
    data = {
        "created": [s.product.id for s in saved if s.created],
        "updated": [s.product.id for s in saved if not s.created],
    }
    emit(data, as_json, lambda d: f"{len(d['created'])} product(s) created, {len(d['updated'])} updated")


@funding_app.command("add")
def funding_add(
    account: Annotated[str, typer.Option(help="Account name.")],
    amount: Annotated[int, typer.Option(help="Amount in minor units (cents).")],
    currency: Annotated[str, typer.Option(help="ISO-4217 code, e.g. USD.")],
    reference: Annotated[str | None, typer.Option(help="Your reference for the payment received.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Top up an account's prepaid balance (a `fund` transfer from the operator's funding source)."""
    from giftwell.services.ledger import funding

    async def add(uow: UnitOfWork) -> dict[str, Any]:
        acct = await acce_accounts.account_by_name(uow, account)
        p = await funding.add(uow, account_id=acct.id, currency=currency, amount=amount, reference=reference)
        assert p.credit is not None
        return {
            "transfer": p.transfer.id,
            "account": acct.name,
            "currency": p.transfer.currency,
            "amount": p.transfer.amount,
            "balance": p.credit.balance,
            "available": p.credit.available,
        }

    emit(
        _run(lambda rt: _in_tx(rt, add), as_json),
        as_json,
        lambda d: f"{d['account']}: +{d['amount']} {d['currency']}, balance {d['balance']} ({d['transfer']})",
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
        acct = await acce_accounts.account_by_name(uow, account)
        return await tokens.create_token(uow, account_id=acct.id, scopes=scope, name=name)

    tok = _run(lambda rt: _in_tx(rt, create), as_json)
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
        acct = await acce_accounts.account_by_name(uow, account)
        return await users.create_user(uow, account_id=acct.id, email=email, password=password, role=role)

    user = _run(lambda rt: _in_tx(rt, create), as_json)
    emit(
        {"id": user.id, "account_id": user.account_id, "email": user.email, "role": user.role},
        as_json,
        lambda d: f"user {d['email']} ({d['role']}) created: {d['id']}",
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
        acct = await acce_accounts.account_by_name(uow, account)
        return await clients.create_client(
            uow,
            account_id=acct.id,
            name=name,
            redirect_uris=redirect_uri or [],
            scopes=scope,
            grant_types=grants,
            public=public,
        )

    emit(_client_out(_run(lambda rt: _in_tx(rt, create), as_json)), as_json, _client_human)


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

    emit(_client_out(_run(lambda rt: _in_tx(rt, rotate), as_json)), as_json, _client_human)


@ledger_app.command("verify")
def ledger_verify(as_json: JsonOpt = False) -> None:
    """Check the ledger's invariants; exits 1 naming the broken account when one fails."""

    async def check(uow: UnitOfWork) -> verify.Report:
        return await verify.verify(uow)

    report = _run(lambda rt: _in_tx(rt, check), as_json)
    data = {
        "ok": report.ok,
        "accounts": report.accounts,
        "transfers": report.transfers,
        "currencies": report.currencies,
        "problems": [p.as_dict() for p in report.problems],
    }

    def human(d: dict[str, Any]) -> str:
        if d["ok"]:
            return f"ledger ok: {d['accounts']} accounts, {d['transfers']} transfers, every currency sums to zero"
        lines = [f"ledger BROKEN: {len(d['problems'])} problem(s)"]
        lines += [
            f"  {p['check']}: account {p['account'] or '-'}: {p['detail']}"
            + (f" (card {p['card']})" if p["card"] else "")
            for p in d["problems"]
        ]
        return "\n".join(lines)

    emit(data, as_json, human)
    if not report.ok:
        raise typer.Exit(1)


@codes_app.command("odds")
def codes_odds(
    live_cards: Annotated[
        int | None, typer.Option(min=0, help="N, the live cards to assume (default: count them in the database).")
    ] = None,
    attackers: Annotated[
        int, typer.Option(min=1, help="Clients or addresses assumed to guess in parallel.")
    ] = DEFAULT_ATTACKERS,
    as_json: JsonOpt = False,
) -> None:
    """Odds of guessing a live code in a year under the guessing limits; exits 1 at one in a million or worse."""
    settings = _settings(as_json)
    if live_cards is None:
        live_cards = _run(lambda rt: _in_tx(rt, cards.count_live), as_json)
    odds = guessing.odds(settings, live_cards=live_cards, attackers=attackers)

    def human(d: dict[str, Any]) -> str:
        verdict = "under one in a million" if d["acceptable"] else "NOT under one in a million"
        return (
            f"code format:       {d['bits']:.0f} bits (default format)\n"
            f"live cards N:      {d['live_cards']:,}\n"
            f"guessing limit:    {d['max_failures']} failed lookups per {d['window_seconds']} s, per client and per IP\n"
            f"guesses a year G:  {d['guesses_per_year_per_attacker']:,} per attacker x {d['attackers']:,} attackers"
            f" = {d['guesses_per_year']:,}\n"
            f"P(hit in a year) = G*N / 2^bits = {d['probability_per_year']:.3g} ({verdict})"
        )

    emit(odds.as_dict(), as_json, human)
    if not odds.acceptable:
        raise typer.Exit(1)


@outbox_app.command("list")
def outbox_list(as_json: JsonOpt = False) -> None:
    """What would have been sent: each email (.eml) and SMS (.json) in the outbox folder."""
    from giftwell.services.delivery import transports

    settings = _settings(as_json)
    found = [e.as_dict() for e in transports.outbox_entries(settings)]

    def human(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return f"The outbox is empty ({settings.resolved_outbox_dir})."
        lines = [f"{settings.resolved_outbox_dir}:"]
        for r in rows:
            what = r["subject"] if r["channel"] == "email" else "(sms)"
            lines.append(f"  {r['at'][:19]}  {r['channel']:5}  {r['to']}  {what}  {r['file']}")
        return "\n".join(lines)

    emit({"dir": str(settings.resolved_outbox_dir), "messages": found}, as_json, lambda d: human(d["messages"]))


@app.command()
def sweep(as_json: JsonOpt = False) -> None:
    """Run the periodic sweep once: expire due cards and holds, purge old idempotency keys
    and ended rate-limit windows."""
    from giftwell.services.sweep import sweep_once

    r = _run(sweep_once, as_json)
    emit(vars(r), as_json, lambda d: ", ".join(f"{k}: {v}" for k, v in d.items()))


@app.command()
def demo(as_json: JsonOpt = False) -> None:
    """Create the demo account and a token if the data dir has none (used by `make run`)."""
    settings = _settings(as_json)
    token_file = settings.data_dir / "demo_token"

    async def setup(rt: Runtime) -> dict[str, Any]:
        async with rt.uow() as uow:
            try:
                await acce_accounts.account_by_name(uow, DEMO_ACCOUNT)
                exists = True
            except GiftwellError:
                exists = False
        if exists:
            token = token_file.read_text().strip() if token_file.exists() else None
            return {"created": False, "account": DEMO_ACCOUNT, "token": token}

        async def create(uow: UnitOfWork) -> tokens.NewToken:
            acct = await acce_accounts.create_account(uow, name=DEMO_ACCOUNT)
            return await tokens.create_token(uow, account_id=acct.id, scopes=DEMO_SCOPES, name="demo")

        tok = await _in_tx(rt, create)
        _write_private(token_file, tok.token)
        return {"created": True, "account": DEMO_ACCOUNT, "token": tok.token}

    data = _run(setup, as_json)
    data["docs_url"] = f"{settings.base_url}/docs"

    def human(d: dict[str, Any]) -> str:
        head = "Demo account created." if d["created"] else "Demo account already exists."
        tok = d["token"] or "(not saved; create one: giftwell tokens create --account demo --scope cards:read ...)"
        return (
            f"{head}\n  API token: {tok}\n  API docs:  {d['docs_url']}\n"
            f"  Try:       curl -s -H 'Authorization: Bearer {d['token'] or '<token>'}' -H 'Content-Type: application/json' "
            f'-d \'{{"currency":"EUR","amount":5000}}\' {settings.base_url}/v1/cards'
        )

    emit(data, as_json, human)


def _write_private(path: Path, text: str) -> None:
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default GIFTWELL_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default GIFTWELL_PORT).")] = None,
    background: Annotated[
        bool | None,
        typer.Option(
            help="Run a job worker (jobs and periodic sweeps) in this process. "
            "Default: GIFTWELL_RUN_WORKER_IN_PROCESS, itself yes on SQLite, no on PostgreSQL."
        ),
    ] = None,
) -> None:
    """Run the API (and, in the embedded default, the background worker) in one process."""
    import uvicorn

    from giftwell.api.app import create_app

    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        fail(str(exc), False, code=2)
    _logging(settings)

    async def prepare() -> None:
        rt = Runtime(settings)
        try:
            await _ready(rt)
        finally:
            await rt.close()

    try:
        asyncio.run(prepare())
    except GiftwellError as exc:
        fail(exc, False)
    except (DBAPIError, OSError) as exc:
        fail(f"database error: {_first_line(exc)}", False, code=2)
    in_process = settings.worker_in_process if background is None else background
    app_ = create_app(settings, background=in_process)
    typer.echo(f"Giftwell on {settings.base_url} (docs: {settings.base_url}/docs, database: {_safe_url(settings)})")
    uvicorn.run(app_, host=settings.host, port=settings.port, log_level=settings.log_level.lower(), access_log=False)


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


app.command()(jobs_cli.worker)


def main() -> None:
    app()
