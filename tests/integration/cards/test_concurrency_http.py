"""Many clients spending one card at once, through real HTTP against real server processes.

SQLite runs one `giftwell serve` process (its one writer); PostgreSQL runs two processes that
share one database, and the requests are spread across both, so the only thing serialising
them is the database. Whatever the interleaving, the card never goes below zero, each request
is either done or refused as `insufficient_funds` (never a 5xx), and the ledger adds up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import Server, cli, giftwell_env, start_servers, stop_servers, wait_healthy

pytestmark = pytest.mark.slow

SECRET = "concurrency-test-secret-0123456789-abcdefghij"
BALANCE = 10_000
CLIENTS = 48

Job = Callable[[httpx.AsyncClient], Awaitable[Any]]


@dataclass
class Cluster:
    servers: list[Server]
    env: dict[str, str]
    token: str

    def logs(self) -> str:
        return "\n".join(f"--- {s.url}\n{s.log()}" for s in self.servers)


@pytest.fixture
def cluster(db_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """One server on SQLite, two sharing the database on PostgreSQL; an account and a token
    made with the CLI."""
    env = giftwell_env(db_url, tmp_path / "var", SECRET)
    servers = start_servers(env, 1 if db_url.startswith("sqlite") else 2, tmp_path, wait=False)
    try:
        # Done while the servers boot: each CLI run pays Python's start-up too.
        cli(env, "accounts", "create", "shop")
        _, tok = cli(
            env,
            *("tokens", "create", "--account", "shop"),
            *("--scope", "cards:read", "--scope", "cards:write", "--scope", "cards:redeem"),
        )
        wait_healthy(servers)
        yield Cluster(servers, env, tok["token"])
    finally:
        stop_servers(servers)


@contextlib.asynccontextmanager
async def client_pool(c: Cluster, n: int = CLIENTS) -> AsyncIterator[list[httpx.AsyncClient]]:
    """`n` clients of one connection each, dealt round-robin over the servers."""
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for i in range(n):
            client = httpx.AsyncClient(
                base_url=c.servers[i % len(c.servers)].url,
                headers={"Authorization": f"Bearer {c.token}"},
                timeout=60,
                # The client lets an idle connection go well before the server's keep-alive
                # timeout (uvicorn's 5 s, httpx's default expiry too): on a loaded machine a
                # request sent as the server closes the connection would fail as a ReadError.
                limits=httpx.Limits(max_connections=1, keepalive_expiry=1.0),
            )
            clients.append(await stack.enter_async_context(client))
        yield clients


async def run_concurrently(c: Cluster, clients: list[httpx.AsyncClient], jobs: list[Job]) -> list[Any]:
    """Run every job, each client taking the next one as soon as it is free; results in job order.
    A dropped connection fails the test with the servers' logs (uvicorn closes a keep-alive
    connection after a 500, so a server error can surface as one)."""
    results: list[Any] = [None] * len(jobs)
    pending = iter(range(len(jobs)))
    go = asyncio.Event()
    failures: list[str] = []

    async def worker(client: httpx.AsyncClient) -> None:
        await go.wait()
        for i in pending:
            try:
                results[i] = await jobs[i](client)
            except httpx.TransportError as exc:
                failures.append(f"{client.base_url}: {exc!r}")

    tasks = [asyncio.create_task(worker(cl)) for cl in clients]
    go.set()
    await asyncio.gather(*tasks)
    assert not failures, f"{len(failures)} requests failed: {failures[:3]}\n{c.logs()}"
    return results


async def all_transfers(client: httpx.AsyncClient, card_id: str) -> list[dict[str, Any]]:
    """The card's whole transfer list, page by page (100 a page)."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        r = await client.get(f"/v1/cards/{card_id}/transfers", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        out += page["data"]
        if not page["has_more"]:
            return out
        cursor = page["next_cursor"]


def assert_outcomes(c: Cluster, responses: list[httpx.Response], allowed: set[int]) -> None:
    """No 5xx at all; every status is one we expect; every 422 is `insufficient_funds`."""
    statuses = Counter(r.status_code for r in responses)
    assert not [s for s in statuses if s >= 500], f"server errors {statuses}\n{c.logs()}"
    assert set(statuses) <= allowed, f"unexpected statuses {statuses}: {[r.text for r in responses][:5]}"
    for r in responses:
        if r.status_code == 422:
            assert r.json()["error"]["code"] == "insufficient_funds", r.text


async def new_card(client: httpx.AsyncClient, amount: int) -> dict[str, Any]:
    r = await client.post("/v1/cards", json={"currency": "EUR", "amount": amount})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def assert_ledger_ok(c: Cluster) -> None:
    rc, report = await asyncio.to_thread(cli, c.env, "ledger", "verify", check=False)
    assert rc == 0, report
    assert report["ok"] is True, report


async def card_everywhere(c: Cluster, clients: list[httpx.AsyncClient], card_id: str) -> dict[str, Any]:
    """The card as each server reads it; they must agree."""
    seen = []
    for client in clients[: len(c.servers)]:
        r = await client.get(f"/v1/cards/{card_id}")
        assert r.status_code == 200, r.text
        seen.append(r.json())
    assert all(s == seen[0] for s in seen), seen
    return seen[0]


async def test_concurrent_redemptions_of_one_card(cluster: Cluster) -> None:
    amount, requests = 70, 200
    async with client_pool(cluster) as clients:
        card = await new_card(clients[0], BALANCE)

        def redeem(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
            return client.post(f"/v1/cards/{card['id']}/redeem", json={"amount": amount})

        responses: list[httpx.Response] = await run_concurrently(cluster, clients, [redeem] * requests)

        assert_outcomes(cluster, responses, {200, 422})
        ok = [r.json() for r in responses if r.status_code == 200]
        expected = BALANCE // amount
        assert len(ok) == expected
        assert len(responses) - len(ok) == requests - expected
        # Each success saw the balance its predecessor left: the redemptions were serialised.
        assert sorted((o["balance_after"] for o in ok), reverse=True) == [
            BALANCE - k * amount for k in range(1, expected + 1)
        ]
        assert all(o["kind"] == "redeem" and o["status"] == "posted" and o["amount"] == amount for o in ok)

        final = await card_everywhere(cluster, clients, card["id"])
        assert final["balance"] == BALANCE - expected * amount
        assert final["available"] == final["balance"]

        transfers = await all_transfers(clients[-1], card["id"])
        assert len({t["id"] for t in transfers}) == len(transfers)
        kinds = Counter(t["kind"] for t in transfers)
        assert kinds == {"activate": 1, "redeem": expected}
        (activation,) = [t for t in transfers if t["kind"] == "activate"]
        assert activation["amount"] == BALANCE
        redeems = [t for t in transfers if t["kind"] == "redeem"]
        assert {t["id"] for t in redeems} == {o["id"] for o in ok}
        assert all(t["status"] == "posted" and t["amount"] == amount for t in redeems)
        assert activation["amount"] - sum(t["amount"] for t in redeems) == final["balance"]

    await assert_ledger_ok(cluster)


# (what is asked, how much is held, what the follow-up does to the hold, amount it finally posts)
MIXED = [
    ("redeem", 70, None, 70),
    ("hold", 90, "capture", 90),
    ("hold", 100, "capture 50", 50),
    ("hold", 60, "void", 0),
    ("hold", 40, None, 0),
]


async def test_concurrent_redeems_holds_and_captures(cluster: Cluster) -> None:
    """Redemptions, holds, full and partial captures and voids interleaved on one card. They ask
    for more (net 12,000) than the card holds, so some are refused, and which ones depends on the
    interleaving; the books must agree with the answers whatever it was."""
    rounds = 48
    async with client_pool(cluster) as clients:
        card = await new_card(clients[0], BALANCE)
        cid = card["id"]

        def job(step: tuple[str, int, str | None, int]) -> Job:
            what, amount, then, _ = step

            async def run(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response | None]:
                r = await client.post(f"/v1/cards/{cid}/redeem", json={"amount": amount, "capture": what == "redeem"})
                if r.status_code != 200 or then is None:
                    return r, None
                tid = r.json()["id"]
                if then == "void":
                    return r, await client.post(f"/v1/transfers/{tid}/void")
                body = {"amount": int(then.split()[1])} if " " in then else None
                return r, await client.post(f"/v1/transfers/{tid}/capture", json=body)

            return run

        steps = MIXED * rounds
        results = await run_concurrently(cluster, clients, [job(s) for s in steps])

        assert_outcomes(cluster, [r for r, _ in results], {200, 422})
        follow_ups = [f for _, f in results if f is not None]
        assert_outcomes(cluster, follow_ups, {200})

        posted = held = 0
        expect: dict[str, tuple[str, int]] = {}  # transfer id -> (status, amount) it must end with
        refused = 0
        for (what, amount, then, final_amount), (r, f) in zip(steps, results, strict=True):
            if r.status_code == 422:
                refused += 1
                continue
            body = r.json()
            assert body["status"] == ("posted" if what == "redeem" else "pending"), body
            if then is None and what == "hold":
                held += amount
                expect[body["id"]] = ("pending", amount)
            elif then == "void":
                assert f is not None
                assert f.json()["status"] == "voided", f.text
                expect[body["id"]] = ("voided", amount)
            else:
                if f is not None:
                    assert f.json()["status"] == "posted", f.text
                    assert f.json()["amount"] == final_amount, f.text
                posted += final_amount
                expect[body["id"]] = ("posted", final_amount)
        assert refused > 0, "the card was never short: the test no longer exercises the guard"
        assert len(expect) > 0

        final = await card_everywhere(cluster, clients, cid)
        assert final["balance"] == BALANCE - posted
        assert final["available"] == final["balance"] - held
        assert final["available"] >= 0

        transfers = await all_transfers(clients[-1], cid)
        assert len({t["id"] for t in transfers}) == len(transfers)
        (activation,) = [t for t in transfers if t["kind"] == "activate"]
        assert activation["amount"] == BALANCE
        redeems = {t["id"]: (t["status"], t["amount"]) for t in transfers if t["kind"] == "redeem"}
        assert len(redeems) == len(transfers) - 1
        assert redeems == expect
        assert BALANCE - sum(a for s, a in redeems.values() if s == "posted") == final["balance"]

    await assert_ledger_ok(cluster)
