"""`giftwell`: serve, migrate, manage accounts and tokens, verify the ledger. The command groups
live in the modules beside this one; this module puts them together."""

from __future__ import annotations

import typer

from giftwell.cli import audit, cards, funding, jobs, keys, operations, reports, serving, suppliers, tenants
from giftwell.services.audit import actor

app = typer.Typer(help="Giftwell: gift cards on a double-entry ledger.", no_args_is_help=True, add_completion=False)
app.add_typer(operations.db_app, name="db")
app.add_typer(tenants.accounts_app, name="accounts")
app.add_typer(tenants.tokens_app, name="tokens")
app.add_typer(operations.ledger_app, name="ledger")
app.add_typer(tenants.users_app, name="users")
app.add_typer(tenants.clients_app, name="clients")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(operations.codes_app, name="codes")
app.add_typer(cards.cards_app, name="cards")
app.add_typer(operations.products_app, name="products")
app.add_typer(suppliers.suppliers_app, name="suppliers")
app.add_typer(funding.funding_app, name="funding")
app.add_typer(operations.outbox_app, name="outbox")
app.add_typer(reports.reports_app, name="reports")
app.command()(operations.sweep)
app.command("backup")(operations.backup_cmd)
app.command("restore")(operations.restore_cmd)
app.command()(serving.demo)
app.command()(serving.serve)
app.command()(serving.worker)


def main() -> None:
    # What a command does is done by the operator at this shell (the audit log's actor); `serve`
    # and `worker` act as the system instead, and their API callers as themselves.
    actor.set_process_actor("cli", actor.cli_operator())
    app()
