"""`giftwell audit ...`: read and export the audit log of administrative actions (every
account's; the API shows each account its own)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from giftwell.cli.common import JsonOpt, run
from giftwell.cli.output import emit, fail
from giftwell.services.access import accounts
from giftwell.services.audit import records
from giftwell.services.runtime import Runtime
from giftwell.store.uow import UnitOfWork

audit_app = typer.Typer(help="The audit log of administrative actions: list and export.", no_args_is_help=True)

AccountOpt = Annotated[str | None, typer.Option(help="Only this account's (by name).")]
ActionOpt = Annotated[str | None, typer.Option(help="Only this action (card.blocked), or a family (card.*).")]
SinceOpt = Annotated[str | None, typer.Option(help="From this time (ISO 8601 with an offset).")]
UntilOpt = Annotated[str | None, typer.Option(help="Until this time (ISO 8601 with an offset).")]
FIELDS = ("id", "occurred_at", "account_id", "action", "target", "actor", "changes")


def _when(value: str | None, name: str, as_json: bool) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--{name}: not an ISO 8601 time: {value!r}", as_json, code=2)
    if at.tzinfo is None:
        fail(f"--{name}: give an offset (2026-12-04T10:00:00+00:00 or ...Z)", as_json, code=2)
    return at.astimezone(UTC)


async def _account_id(uow: UnitOfWork, name: str | None) -> str | None:
    return None if name is None else (await accounts.account_by_name(uow, name)).id


def _line(e: dict[str, Any]) -> str:
    who = e["actor"]
    by = f"{who['type']}:{who['id']}" if who["id"] else who["type"]
    where = f" from {who['ip']}" if who["ip"] else ""
    target = f"{e['target']['type']} {e['target']['id'] or ''}".strip()
    return f"{e['occurred_at']}  {e['action']:<28} {target:<40} by {by}{where}  {json.dumps(e['changes'])}"


@audit_app.command("list")
def audit_list(
    account: AccountOpt = None,
    action: ActionOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="At most this many, newest first.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="The next_cursor of an earlier page.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List audit events, newest first."""
    lo, hi = _when(since, "since", as_json), _when(until, "until", as_json)

    async def go(uow: UnitOfWork) -> Any:
        return await records.list_events(
            uow,
            account_id=await _account_id(uow, account),
            action=action,
            since=lo,
            until=hi,
            limit=limit,
            cursor=cursor,
        )

    page = run(lambda rt: rt.transact(go), as_json)
    data = {"data": [e.as_dict() for e in page.data], "has_more": page.has_more, "next_cursor": page.next_cursor}
    emit(
        data,
        as_json,
        lambda d: (
            "\n".join(_line(e) for e in d["data"]) + (f"\n(more: --cursor {d['next_cursor']})" if d["has_more"] else "")
            if d["data"]
            else "no audit events"
        ),
    )


@audit_app.command("export")
def audit_export(
    file: Annotated[Path, typer.Argument(help="Where to write; - for standard output.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl (one event a line) or csv.")] = "jsonl",
    account: AccountOpt = None,
    action: ActionOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export every matching audit event, oldest first, as JSON Lines or CSV."""
    if fmt not in ("jsonl", "csv"):
        fail("--format must be jsonl or csv", as_json, code=2)
    lo, hi = _when(since, "since", as_json), _when(until, "until", as_json)

    async def go(rt: Runtime) -> int:
        out = sys.stdout if str(file) == "-" else file.open("w", newline="", encoding="utf-8")
        n = 0
        try:
            writer = csv.writer(out) if fmt == "csv" else None
            if writer is not None:
                writer.writerow(FIELDS)
            async with rt.reader() as uow:
                acct = await _account_id(uow, account)
                async for e in records.export(uow, account_id=acct, action=action, since=lo, until=hi):
                    doc = e.as_dict()
                    if writer is not None:
                        writer.writerow(
                            [d if isinstance(d, str) or d is None else json.dumps(d) for d in (doc[f] for f in FIELDS)]
                        )
                    else:
                        out.write(json.dumps(doc) + "\n")
                    n += 1
        finally:
            if out is not sys.stdout:
                out.close()
        return n

    n = run(go, as_json)
    if str(file) != "-":
        emit(
            {"exported": n, "file": str(file), "format": fmt},
            as_json,
            lambda d: f"{d['exported']} audit events written to {d['file']}",
        )
