"""`giftwell suppliers`: upstream WizzGift-compatible APIs whose products the catalog sells.

Credentials are read from standard input, never from arguments (they would show in `ps`): one
line each, in this order, for each flag given: `--client-secret-stdin`, `--refresh-token-stdin`,
`--webhook-secret-stdin`.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from giftwell.cli.common import JsonOpt, run
from giftwell.cli.output import emit, fail
from giftwell.domain.errors import GiftwellError
from giftwell.domain.suppliers import SupplierPaused, UpstreamError
from giftwell.services.catalog.upstream import config, sync
from giftwell.services.catalog.upstream.config import SupplierView
from giftwell.services.runtime import Runtime
from giftwell.store.uow import UnitOfWork

suppliers_app = typer.Typer(help="Upstream suppliers (other WizzGift-compatible APIs).", no_args_is_help=True)

ClientSecretStdin = Annotated[
    bool, typer.Option("--client-secret-stdin", help="Read the client secret from standard input.")
]
RefreshStdin = Annotated[
    bool,
    typer.Option(
        "--refresh-token-stdin",
        help="Read a refresh token (from the code flow at the supplier) from standard input; "
        "without one, the client-credentials grant is used.",
    ),
]
WebhookStdin = Annotated[
    bool,
    typer.Option(
        "--webhook-secret-stdin",
        help="Read the secret of the webhook endpoint registered at the supplier from standard input.",
    ),
]


MaxQuantity = Annotated[
    int | None,
    typer.Option(
        "--max-quantity",
        help="The most cards one upstream order asks for; a larger order item is bought in several "
        "(default 25, WizzGift's limit per item).",
    ),
]


def _lines(*flags: bool) -> list[str | None]:
    """One stdin line per flag given, in order; None for each flag not given."""
    return [sys.stdin.readline().rstrip("\r\n") if flag else None for flag in flags]


def _human(d: dict[str, Any]) -> str:
    state = d["status"] + (f" ({d['paused_reason']})" if d["paused_reason"] else "")
    hook = "webhook secret set" if d["webhook_secret_set"] else "no webhook secret (polling only)"
    return f"{d['name']}: {d['kind']} at {d['base_url']}, {d['auth']}, {hook}, at most {d['max_quantity']} cards an order, {state}"


@suppliers_app.command("add")
def add(
    name: str,
    base_url: Annotated[str, typer.Option("--base-url", help="The API's base, e.g. https://host/api/b2b.")],
    client_id: Annotated[str, typer.Option("--client-id", help="Our client id at the supplier.")],
    kind: Annotated[str, typer.Option(help="The API the supplier speaks.")] = "wizzgift",
    client_secret_stdin: ClientSecretStdin = False,
    refresh_token_stdin: RefreshStdin = False,
    webhook_secret_stdin: WebhookStdin = False,
    max_quantity: MaxQuantity = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an upstream supplier. Its products then name it in `supplier` (`products import`)."""
    if not client_secret_stdin:
        fail("pass --client-secret-stdin and the client secret on standard input", as_json, code=2)
    secret, refresh, hook = _lines(client_secret_stdin, refresh_token_stdin, webhook_secret_stdin)
    assert secret is not None

    async def add_it(uow: UnitOfWork) -> SupplierView:
        return await config.add_supplier(
            uow,
            name=name,
            kind=kind,
            base_url=base_url,
            client_id=client_id,
            client_secret=secret,
            refresh_token=refresh,
            webhook_secret=hook,
            **({} if max_quantity is None else {"max_quantity": max_quantity}),
        )

    made = run(lambda rt: rt.transact(add_it), as_json)
    emit(made.as_dict(), as_json, _human)


@suppliers_app.command("update")
def update(
    name: str,
    base_url: Annotated[str | None, typer.Option("--base-url", help="A new base URL.")] = None,
    client_id: Annotated[str | None, typer.Option("--client-id", help="A new client id at the supplier.")] = None,
    client_secret_stdin: ClientSecretStdin = False,
    refresh_token_stdin: RefreshStdin = False,
    webhook_secret_stdin: WebhookStdin = False,
    max_quantity: MaxQuantity = None,
    resume: Annotated[bool, typer.Option("--resume", help="Make a paused supplier active again.")] = False,
    pause: Annotated[bool, typer.Option("--pause", help="Send the supplier nothing until resumed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Give a supplier new credentials, a webhook secret, base URL or largest order; pause it, or
    resume it after a pause. (`PATCH /v1/suppliers/NAME` in the operator API.)"""
    secret, refresh, hook = _lines(client_secret_stdin, refresh_token_stdin, webhook_secret_stdin)

    async def change(uow: UnitOfWork) -> SupplierView:
        return await config.update_supplier(
            uow,
            name=name,
            client_id=client_id,
            client_secret=secret,
            refresh_token=refresh,
            webhook_secret=hook,
            base_url=base_url,
            max_quantity=max_quantity,
            resume=resume,
            pause=pause,
        )

    emit(run(lambda rt: rt.transact(change), as_json).as_dict(), as_json, _human)


@suppliers_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """The upstream suppliers and their state (credentials are never shown)."""

    async def listed(uow: UnitOfWork) -> list[SupplierView]:
        return await config.list_suppliers(uow)

    found = run(lambda rt: rt.transact(listed), as_json)
    emit(
        [s.as_dict() for s in found],
        as_json,
        lambda rows: "\n".join(_human(r) for r in rows) or "no suppliers",
    )


@suppliers_app.command("sync")
def sync_(name: str, as_json: JsonOpt = False) -> None:
    """Pull the supplier's catalog and bring our products made by it up to date."""

    async def pull(rt: Runtime) -> sync.SyncReport:
        try:
            return await sync.sync(rt, name)
        except (UpstreamError, SupplierPaused) as exc:
            raise GiftwellError(f"supplier {name}: {exc}") from None

    report = run(pull, as_json)

    def human(d: dict[str, Any]) -> str:
        lines = [f"{len(d['upstream'])} upstream product(s); {len(d['updated'])} of ours updated"]
        lines += [f"  deactivated {pid}: {why}" for pid, why in d["deactivated"].items()]
        return "\n".join(lines)

    emit(report.as_dict(), as_json, human)
