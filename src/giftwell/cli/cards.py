"""`giftwell cards issue-bulk`: many cards of one value, codes written once to a file.

The file (created mode 0600, never overwritten) starts with a line naming the run, then
`card_id,code`, then one line per card. A batch's lines are written and synced before its
transaction commits; after a crash the same command (same `--out`) cuts the file back to the
cards that committed and continues the run where it stopped, so every card is issued once and its
code is in the file once.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from giftwell.cli.common import JsonOpt, run
from giftwell.cli.output import emit
from giftwell.domain import codes
from giftwell.domain.catalog import add_months
from giftwell.domain.errors import GiftwellError, ValidationFailed
from giftwell.services.access import accounts
from giftwell.services.cards import bulk
from giftwell.services.catalog import products
from giftwell.services.runtime import Runtime

cards_app = typer.Typer(help="Cards in bulk.", no_args_is_help=True)

_HEADER = re.compile(r"^# giftwell cards issue-bulk run=(blk_[0-9A-Z]+) ")
COLUMNS = "card_id,code\n"


class CodesFile:
    """The operator's file of codes: appended batch by batch, synced before each commit."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def run_id(path: Path) -> str | None:
        with path.open("rb") as fh:
            m = _HEADER.match(fh.readline().decode(errors="replace"))
        return m.group(1) if m else None

    def create(self, run: bulk.Run) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(
                f"# giftwell cards issue-bulk run={run.id} count={run.count} amount={run.amount} "
                f"currency={run.currency}\n{COLUMNS}"
            )
            fh.flush()
            os.fsync(fh.fileno())

    def cut_to(self, cards: int) -> None:
        """Keep the two header lines and the first `cards` lines (those that committed)."""
        data = self.path.read_bytes()
        pos = 0
        for _ in range(cards + 2):
            nl = data.find(b"\n", pos)
            if nl < 0:
                raise GiftwellError(
                    f"{self.path} holds fewer codes than the {cards} cards issued: it is not this run's file"
                )
            pos = nl + 1
        if pos < len(data):
            with self.path.open("r+b") as fh:
                fh.truncate(pos)
                os.fsync(fh.fileno())

    async def append(self, pairs: list[tuple[str, str]]) -> None:
        with self.path.open("a") as fh:
            fh.write("".join(f"{card_id},{code}\n" for card_id, code in pairs))
            fh.flush()
            os.fsync(fh.fileno())


@cards_app.command("issue-bulk")
def issue_bulk(
    count: Annotated[int, typer.Option(min=1, help="How many cards.")],
    amount: Annotated[int, typer.Option(min=1, help="Each card's value in minor units (cents).")],
    currency: Annotated[str, typer.Option(help="ISO-4217 code, e.g. EUR.")],
    out: Annotated[Path, typer.Option(help="File for the codes (made mode 0600; run again with it to resume).")],
    product: Annotated[str | None, typer.Option(help="Catalog product: its issuer, code format, expiry.")] = None,
    account: Annotated[
        str | None, typer.Option(help="Issuing account (default: the product's, else the operator).")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=50_000, help="Cards per transaction.")] = bulk.BATCH,
    as_json: JsonOpt = False,
) -> None:
    """Issue COUNT active cards of AMOUNT each, writing their codes once to OUT.

    Resumable: after a crash or a kill, run the same command again; it continues the run named in
    OUT. A finished run's file is never written again."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    f = CodesFile(out)

    async def go(rt: Runtime) -> dict[str, Any]:
        fmt = codes.DEFAULT_FORMAT
        if out.exists():
            run_id = CodesFile.run_id(out)
            if run_id is None:
                raise ValidationFailed(
                    f"{out} exists and is not a bulk issue's file: refusing to overwrite it", param="out"
                )
            async with rt.reader() as uow:
                r = await bulk.get(uow, run_id)
            if (r.count, r.amount, r.currency) != (count, amount, currency.upper()):
                raise ValidationFailed(
                    f"{out} is run {r.id} of {r.count} cards of {r.amount} {r.currency}, not this command's",
                    param="out",
                )
            f.cut_to(r.issued)
            if r.product_id:
                fmt = await _format(rt, r.product_id)
            resumed = r.issued
        else:
            r, fmt = await _start(rt, count=count, amount=amount, currency=currency, product=product, account=account)
            f.create(r)
            resumed = 0
        with Progress(
            TextColumn("issuing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            disable=as_json,
            transient=False,
        ) as bar:
            task = bar.add_task("cards", total=r.count, completed=r.issued)
            async with rt.reader() as uow:
                issuance = await bulk.issuance_account(uow, r)

            def build(after: bulk.Run) -> bulk.Prepared:
                return bulk.prepare(rt.keys, rt.clock(), after, issuance, size=batch_size, code_format=fmt)

            # The next batch's codes, hashes and ciphertexts are built in a thread while this one
            # is written (the event loop waits on PostgreSQL meanwhile, the GIL free).
            ahead = asyncio.ensure_future(asyncio.to_thread(build, r))
            while r.issued < r.count:
                prepared = await ahead
                following = replace(r, issued=r.issued + len(prepared.shown))
                ahead = asyncio.ensure_future(asyncio.to_thread(build, following))
                async with rt.uow() as uow:
                    r = await bulk.issue_batch(uow, r, prepared=prepared, write=f.append)
                    await uow.commit()
                bar.update(task, completed=r.issued)
            await ahead
        return {"run": r.id, "issued": r.issued, "resumed_from": resumed, "out": str(out), "finished": r.finished}

    data = run(go, as_json)
    emit(data, as_json, lambda d: f"Issued {d['issued']} cards (run {d['run']}); codes in {d['out']}.")


async def _format(rt: Runtime, product_id: str) -> codes.CodeFormat:
    async with rt.reader() as uow:
        p = await products.get(uow, product_id)
    return codes.CodeFormat(**p.code_format) if p.code_format else codes.DEFAULT_FORMAT


async def _start(
    rt: Runtime, *, count: int, amount: int, currency: str, product: str | None, account: str | None
) -> tuple[bulk.Run, codes.CodeFormat]:
    async with rt.uow() as uow:
        fmt, expires, issuer = codes.DEFAULT_FORMAT, None, None
        if product is not None:
            p = await products.get(uow, product, active_only=True)
            if p.currency != currency.upper():
                raise ValidationFailed(f"product {p.id} is in {p.currency}, not {currency}", param="currency")
            p.denominations.check(amount, param="amount")
            fmt = codes.CodeFormat(**p.code_format) if p.code_format else codes.DEFAULT_FORMAT
            expires = add_months(uow.now, p.expiry_months) if p.expiry_months else None
            issuer = p.issuer_account_id
        if account is not None:
            issuer = (await accounts.account_by_name(uow, account)).id
        if issuer is None:
            issuer = (await accounts.operator_account(uow)).id
        r = await bulk.start(
            uow,
            account_id=issuer,
            count=count,
            amount=amount,
            currency=currency,
            product_id=product,
            expires_at=expires,
        )
        await uow.commit()
    return r, fmt
