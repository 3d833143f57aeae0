"""Operating Giftwell: the schema, the catalog, the ledger check, the guessing odds, the
mail written to the mail folder, and the sweep."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from giftwell.app import build_runtime
from giftwell.cli.common import JsonOpt, load, run
from giftwell.cli.output import emit, fail
from giftwell.domain.guessing import DEFAULT_ATTACKERS
from giftwell.services.access import guessing
from giftwell.services.cards import reads as cards
from giftwell.services.cards import reindex as card_reindex
from giftwell.services.ledger import verify
from giftwell.store import backup, migrate
from giftwell.store.uow import UnitOfWork

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


ledger_app = typer.Typer(help="The ledger.", no_args_is_help=True)


codes_app = typer.Typer(help="Card codes.", no_args_is_help=True)


products_app = typer.Typer(help="The catalog of products.", no_args_is_help=True)


outbox_app = typer.Typer(help="Messages written to the mail folder instead of sent.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(as_json: JsonOpt = False) -> None:
    """Apply the migrations (creates the schema on an empty database)."""
    settings = load(as_json)

    async def main() -> dict[str, Any]:
        rt = build_runtime(settings)
        try:
            if settings.embedded:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
            await migrate.upgrade(rt.engine)
            return {"revision": await migrate.current_revision(rt.engine)}
        finally:
            await rt.close()

    emit(asyncio.run(main()), as_json, lambda d: f"database at revision {d['revision']}")


@db_app.command("reindex-cards")
def db_reindex_cards(as_json: JsonOpt = False) -> None:
    """Rebuild the card query's search text and metadata rows (after a rolling upgrade: cards the
    previous version issued or sent meanwhile); safe to stop and run again."""
    seen = run(card_reindex.reindex, as_json)
    emit({"cards": seen}, as_json, lambda d: f"reindexed {d['cards']:,} cards")


@products_app.command("import")
def products_import(
    file: Annotated[Path, typer.Argument(help="A JSON file holding a list of products in the API's shape.")],
    as_json: JsonOpt = False,
) -> None:
    """Add or replace products (an upsert by id), all in one transaction."""
    import json

    from giftwell.services.catalog import products

    try:
        items = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        fail(f"cannot read {file}: {exc}", as_json, code=2)
    saved = run(lambda rt: rt.transact(lambda uow: products.import_products(uow, items)), as_json)
    data = {
        "created": [s.product.id for s in saved if s.created],
        "updated": [s.product.id for s in saved if not s.created],
    }
    emit(data, as_json, lambda d: f"{len(d['created'])} product(s) created, {len(d['updated'])} updated")


@ledger_app.command("verify")
def ledger_verify(as_json: JsonOpt = False) -> None:
    """Check the ledger's invariants; exits 1 naming the broken account when one fails."""

    async def check(uow: UnitOfWork) -> verify.Report:
        return await verify.verify(uow)

    report = run(lambda rt: rt.transact(check), as_json)
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
    settings = load(as_json)
    if live_cards is None:
        live_cards = run(lambda rt: rt.transact(cards.count_live), as_json)
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
    """What would have been sent: each email (.eml) and SMS (.json) in the mail folder."""
    from giftwell.adapters import transports

    settings = load(as_json)
    found = [e.as_dict() for e in transports.mail_folder_entries(settings)]

    def human(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return f"The mail folder is empty ({settings.mail_dir})."
        lines = [f"{settings.mail_dir}:"]
        for r in rows:
            what = r["subject"] if r["channel"] == "email" else "(sms)"
            lines.append(f"  {r['at'][:19]}  {r['channel']:5}  {r['to']}  {what}  {r['file']}")
        return "\n".join(lines)

    emit({"dir": str(settings.mail_dir), "messages": found}, as_json, lambda d: human(d["messages"]))


def sweep(as_json: JsonOpt = False) -> None:
    """Run the periodic sweep once: expire due cards and holds, purge old idempotency keys,
    used JWT ids past their window and ended rate-limit windows."""
    from giftwell.services.sweep import sweep_once

    r = run(sweep_once, as_json)
    emit(vars(r), as_json, lambda d: ", ".join(f"{k}: {v}" for k, v in d.items()))


def backup_cmd(
    file: Annotated[Path, typer.Argument(help="Where to write the copy.")], as_json: JsonOpt = False
) -> None:
    """Copy the embedded SQLite database to FILE, consistently, while the server runs."""
    settings = load(as_json)
    try:
        done = backup.backup(settings.resolved_database_url, file)
    except backup.BackupError as exc:
        fail(str(exc), as_json, code=2)
    emit(
        {"file": str(done.path), "bytes": done.bytes, "revision": done.revision},
        as_json,
        lambda d: f"backed up to {d['file']} ({d['bytes']} bytes, schema {d['revision']})",
    )


def restore_cmd(
    file: Annotated[Path, typer.Argument(help="A file `giftwell backup` wrote.")],
    yes: Annotated[bool, typer.Option("--yes", help="Replace the current database without asking.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Replace the embedded SQLite database with a backup (the server must be stopped). The schema
    is brought up to date at the next start."""
    settings = load(as_json)
    try:
        target = backup.sqlite_path(settings.resolved_database_url)
        if target.exists() and not yes:
            fail(f"{target} exists: pass --yes to replace it with {file}", as_json, code=2)
        done = backup.restore(settings.resolved_database_url, file)
    except backup.BackupError as exc:
        fail(str(exc), as_json, code=2)
    emit(
        {"database": str(done.path), "bytes": done.bytes, "revision": done.revision},
        as_json,
        lambda d: f"restored {d['database']} from {file} (schema {d['revision']})",
    )
