"""Background fulfilment alone, in one process and without HTTP: one order of
`BENCH_ORDER_CARDS` (10,000) cards placed in async mode, then `fulfilment.fulfil` timed as the
`order.fulfil` job runs it, on SQLite and PostgreSQL (`BENCH_BACKENDS`), with the CPU of this
process (the fulfiller's, the steadier figure on a shared machine) per card; `ledger verify`
after. `python -m bench.fulfil`."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
from tests import factories, pg

from bench import report
from giftwell.app import build_runtime
from giftwell.domain.orders import Mode
from giftwell.services.ledger import verify
from giftwell.services.orders import fulfilment, placing
from giftwell.services.orders.placing import ItemRequest, OrderRequest
from giftwell.settings import load_settings
from giftwell.store import migrate


async def _measure(url: str, workdir: Path, cards: int) -> dict[str, Any]:
    settings = load_settings(database_url=url, data_dir=workdir / "var", secret_key="bench-fulfil-" + "x" * 32)
    rt = build_runtime(settings)
    try:
        await migrate.upgrade(rt.engine)
        t = await factories.buyer(rt, funds=10**12)
        req = OrderRequest(f"bench-{secrets.token_hex(3)}", [ItemRequest("acme-usd", 2000, cards)], mode=Mode.ASYNC)
        async with rt.uow() as uow:
            order = await placing.place_order(uow, account_id=t.account_id, req=req)
            await uow.commit()
        cpu0, t0 = time.process_time(), time.perf_counter()
        status = await fulfilment.fulfil(rt, order.id, max_batch=fulfilment.MAX_BATCH)  # as the job does
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        async with rt.uow() as uow:
            checked = await verify.verify(uow)
    finally:
        await rt.engine.dispose()
    return {
        "cards": cards,
        "status": status.value,
        "seconds": round(seconds, 2),
        "cards_per_second": round(cards / seconds, 1),
        "fulfiller_cpu_us_per_card": round(cpu / cards * 1e6),
        "ledger_ok": checked.ok,
    }


def measure(backend: str, cards: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if backend == "sqlite":
            return asyncio.run(_measure(f"sqlite+aiosqlite:///{workdir}/bench.db", workdir, cards))
        server = pg.start(durable=os.environ.get("BENCH_PG_DURABLE", "1") != "0")
        try:

            async def create() -> None:
                conn = await asyncpg.connect(server.url("postgres"))
                try:
                    await conn.execute("CREATE DATABASE fulfil")
                finally:
                    await conn.close()

            asyncio.run(create())
            return asyncio.run(_measure(server.url("fulfil"), workdir, cards))
        finally:
            server.stop()


def main() -> None:
    cards = int(os.environ.get("BENCH_ORDER_CARDS", "10000"))
    for backend in os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(","):
        r = measure(backend, cards)
        report.progress(
            f"fulfil {backend}: {r['cards']:,} cards {r['status']} in {r['seconds']:.1f} s = "
            f"{r['cards_per_second']:,.0f} cards/s, {r['fulfiller_cpu_us_per_card']:,} us CPU per card; "
            f"ledger verify {'ok' if r['ledger_ok'] else 'FAILED'}; load average {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
