"""`giftwell funding`: accounts' funding sources. Top up a prepaid balance, grant or change a
credit line, record a payment against one, and list an account's sources."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from giftwell.cli.common import JsonOpt, run
from giftwell.cli.output import emit
from giftwell.services.access import accounts as acce_accounts
from giftwell.services.funding.sources import Source
from giftwell.store.uow import UnitOfWork

funding_app = typer.Typer(help="Accounts' funding sources: prepaid balances and credit lines.", no_args_is_help=True)

AccountOpt = Annotated[str, typer.Option(help="Account name.")]
CurrencyOpt = Annotated[str, typer.Option(help="ISO-4217 code, e.g. USD.")]


def source_dict(s: Source) -> dict[str, Any]:
    return {
        "id": s.id,
        "type": s.kind.value,
        "currency": s.currency,
        "balance": s.state.balance,
        "available": s.state.available,
        "credit_limit": s.state.limit,
        "owed": s.state.owed,
        "default": s.default,
    }


def _line(d: dict[str, Any]) -> str:
    text = f"{d['id']}  {d['type']:11}  {d['currency']}  balance {d['balance']}  available {d['available']}"
    if d["credit_limit"] is not None:
        text += f"  limit {d['credit_limit']}  owed {d['owed']}"
    return text + ("  (default)" if d["default"] else "")


@funding_app.command("add")
def funding_add(
    account: Annotated[str, typer.Option(help="Account name.")],
    amount: Annotated[int, typer.Option(help="Amount in minor units (cents).")],
    currency: Annotated[str, typer.Option(help="ISO-4217 code, e.g. USD.")],
    reference: Annotated[str | None, typer.Option(help="Your reference for the payment received.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Top up an account's prepaid balance (a `fund` transfer from the operator's funding source)."""
    from giftwell.services.funding import balances

    async def add(uow: UnitOfWork) -> dict[str, Any]:
        acct = await acce_accounts.account_by_name(uow, account)
        p = await balances.add(uow, account_id=acct.id, currency=currency, amount=amount, reference=reference)
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
        run(lambda rt: rt.transact(add), as_json),
        as_json,
        lambda d: f"{d['account']}: +{d['amount']} {d['currency']}, balance {d['balance']} ({d['transfer']})",
    )


@funding_app.command("credit-line")
def funding_credit_line(
    account: AccountOpt,
    currency: CurrencyOpt,
    limit: Annotated[int, typer.Option(help="The credit limit in minor units (0 stops new orders).")],
    default: Annotated[
        bool | None,
        typer.Option("--default/--no-default", help="Whether orders in this currency pay from it by default."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Grant an account a credit line, or change its limit. Refused below what is owed and reserved."""
    from giftwell.services.funding import credit

    async def grant(uow: UnitOfWork) -> dict[str, Any]:
        acct = await acce_accounts.account_by_name(uow, account)
        s = await credit.set_credit_line(uow, account_id=acct.id, currency=currency, limit=limit, default=default)
        return {"account": acct.name, **source_dict(s)}

    emit(run(lambda rt: rt.transact(grant), as_json), as_json, lambda d: f"{d['account']}: {_line(d)}")


@funding_app.command("settle")
def funding_settle(
    account: AccountOpt,
    currency: CurrencyOpt,
    amount: Annotated[int, typer.Option(help="The payment received, in minor units.")],
    reference: Annotated[str | None, typer.Option(help="Your reference for the payment received.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a payment against an account's credit line: what it may draw goes back up (a receipt)."""
    from giftwell.services.funding import credit, sources

    async def pay(uow: UnitOfWork) -> dict[str, Any]:
        acct = await acce_accounts.account_by_name(uow, account)
        r = await credit.settle(uow, account_id=acct.id, currency=currency, amount=amount, reference=reference)
        s = await sources.get_source(uow, account_id=acct.id, source_id=r.funding_source_id)
        return {"account": acct.name, "receipt": r.id, "transfer": r.transfer_id, "source": source_dict(s)}

    emit(
        run(lambda rt: rt.transact(pay), as_json),
        as_json,
        lambda d: f"{d['account']}: settled ({d['receipt']}); {_line(d['source'])}",
    )


@funding_app.command("sources")
def funding_sources(account: AccountOpt, as_json: JsonOpt = False) -> None:
    """An account's funding sources: prepaid balances and credit lines."""
    from giftwell.services.funding import sources

    async def listed(uow: UnitOfWork) -> dict[str, Any]:
        acct = await acce_accounts.account_by_name(uow, account)
        return {
            "account": acct.name,
            "sources": [source_dict(s) for s in await sources.list_sources(uow, account_id=acct.id)],
        }

    emit(
        run(lambda rt: rt.transact(listed), as_json),
        as_json,
        lambda d: "\n".join(_line(s) for s in d["sources"]) or f"{d['account']} has no funding source yet",
    )
