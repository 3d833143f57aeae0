"""`giftwell reports`: liability, breakage and cards expiring soon, for one account. `--json`
prints exactly what the API's `/v1/reports/...` answers."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from giftwell.cli.common import JsonOpt, run
from giftwell.cli.output import emit, fail
from giftwell.domain.reports import DEFAULT_DORMANT_DAYS
from giftwell.services.access import accounts
from giftwell.services.runtime import Runtime

reports_app = typer.Typer(help="Reports: liability, breakage, cards expiring soon.", no_args_is_help=True)

AccountOpt = Annotated[str, typer.Option(help="Account name.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="An ISO-8601 instant with its offset (default: now).")]


def _as_of(value: str | None, as_json: bool) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--as-of is not an ISO-8601 instant: {value!r}", as_json, code=2)
    if at.tzinfo is None:
        fail("--as-of must include a timezone offset (Z or +01:00)", as_json, code=2)
    return at


async def _account_id(rt: Runtime, name: str) -> str:
    async with rt.reader() as uow:
        return (await accounts.account_by_name(uow, name)).id


def _owed(rows: list[dict[str, Any]]) -> str:
    def line(r: dict[str, Any]) -> str:
        links = (
            f"; {r['links']:,} on {r['link_count']:,} unpicked link(s)" if r.get("links") or r.get("link_count") else ""
        )
        return f"  {r['currency']}  {r['amount']:>16,}  on {r['cards']:,} card(s){links}"

    return "\n".join(line(r) for r in rows) or "  (none)"


@reports_app.command("liability")
def liability_cmd(account: AccountOpt, as_of: AsOfOpt = None, as_json: JsonOpt = False) -> None:
    """What the account's cards hold, per currency (minor units), now or at --as-of."""
    from giftwell.api.v1.schemas.reports import LiabilityOut
    from giftwell.services.reports import liability

    at = _as_of(as_of, as_json)

    async def main(rt: Runtime) -> LiabilityOut:
        acct = await _account_id(rt, account)
        async with rt.reader() as uow:
            return LiabilityOut.of(await liability.liability(uow, account_id=acct, as_of=at))

    out = run(main, as_json).model_dump(mode="json")
    emit(out, as_json, lambda d: f"liability at {d['as_of']}:\n{_owed(d['data'])}")


@reports_app.command("breakage")
def breakage_cmd(
    account: AccountOpt,
    rate: Annotated[str, typer.Option(help="Assumed breakage rate, a decimal fraction such as 0.1.")],
    dormant_after_days: Annotated[int, typer.Option(help="Days without movement that make a card dormant.")] = (
        DEFAULT_DORMANT_DAYS
    ),
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Expired value per month and the estimated breakage schedule (ASC 606 proportional method)."""
    from giftwell.api.v1.schemas.reports import BreakageOut
    from giftwell.services.reports import breakage

    at = _as_of(as_of, as_json)

    async def main(rt: Runtime) -> BreakageOut:
        acct = await _account_id(rt, account)
        async with rt.reader() as uow:
            found = await breakage.breakage(
                uow, account_id=acct, rate=rate, as_of=at, dormant_after_days=dormant_after_days
            )
        return BreakageOut.of(found)

    def human(d: dict[str, Any]) -> str:
        lines = [f"breakage at {d['as_of']}, rate {d['rate']}, dormant after {d['dormant_after_days']} days"]
        for c in d["data"]:
            lines.append(
                f"{c['currency']}: issued {c['issued']:,}, redeemed {c['redeemed']:,}, expired {c['expired']:,}, "
                f"expected breakage {c['expected_breakage']:,}, recognised {c['recognized_breakage']:,}, "
                f"dormant {c['dormant']['amount']:,} on {c['dormant']['cards']:,} card(s)"
            )
            lines += [
                f"  {m['month']}  issued {m['issued']:>12,}  redeemed {m['redeemed']:>12,}  expired "
                f"{m['expired']:>10,}  breakage {m['recognized_breakage']:>10,}  total {m['cumulative_breakage']:>10,}"
                for m in c["months"]
            ]
        return "\n".join(lines)

    emit(run(main, as_json).model_dump(mode="json"), as_json, human)


@reports_app.command("expiring")
def expiring_cmd(
    account: AccountOpt,
    days: Annotated[int, typer.Option(min=1, max=3660, help="The window in days.")] = 30,
    csv_out: Annotated[bool, typer.Option("--csv", help="Every card as CSV on stdout (no codes).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Cards holding value that expire within --days, with totals per currency."""
    from giftwell.api.v1.schemas.reports import ExpiringOut
    from giftwell.http.exports import CARD_COLUMNS, card_row
    from giftwell.services.pagination import MAX_LIMIT
    from giftwell.services.reports import expiring

    if csv_out:

        async def export(rt: Runtime) -> None:
            acct = await _account_id(rt, account)
            writer = csv.writer(sys.stdout)
            writer.writerow(CARD_COLUMNS)
            async for card in expiring.export_expiring(rt, account_id=acct, days=days):
                writer.writerow(card_row(card))

        run(export, as_json)
        return

    async def main(rt: Runtime) -> ExpiringOut:
        acct = await _account_id(rt, account)
        async with rt.reader() as uow:
            return ExpiringOut.of(await expiring.expiring(uow, account_id=acct, days=days, limit=MAX_LIMIT))

    def human(d: dict[str, Any]) -> str:
        lines = [f"expiring by {d['until']}:", _owed(d["totals"])]
        lines += [
            f"  {c['expires_at']}  {c['id']}  ...{c['code_last4']}  {c['currency']} {c['balance']:,}" for c in d["data"]
        ]
        if d["has_more"]:
            lines.append("  (more: use --csv for every card)")
        return "\n".join(lines)

    emit(run(main, as_json).model_dump(mode="json"), as_json, human)
