"""`giftwell`: serve, migrate, manage accounts and tokens, verify the ledger. The command groups
live in the modules beside this one; this module puts them together."""

from __future__ import annotations

import typer

from giftwell.cli import funding, jobs, operations, serving, tenants

app = typer.Typer(help="Giftwell: gift cards on a double-entry ledger.", no_args_is_help=True, add_completion=False)
app.add_typer(operations.db_app, name="db")
app.add_typer(tenants.accounts_app, name="accounts")
app.add_typer(tenants.tokens_app, name="tokens")
app.add_typer(operations.ledger_app, name="ledger")
app.add_typer(tenants.users_app, name="users")
app.add_typer(tenants.clients_app, name="clients")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(operations.codes_app, name="codes")
app.add_typer(operations.products_app, name="products")
app.add_typer(funding.funding_app, name="funding")
app.add_typer(operations.outbox_app, name="outbox")
app.command()(operations.sweep)
app.command()(serving.demo)
app.command()(serving.serve)
app.command()(serving.worker)


def main() -> None:
    app()
