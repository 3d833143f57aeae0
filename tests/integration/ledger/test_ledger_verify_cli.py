"""`giftwell ledger verify` on a real ledger, clean and then corrupted behind the ledger's back.

Each invariant of `services/verify.py` gets a corruption that breaks it, made with raw SQL on the
test database; the command must exit 1 and name exactly the problems that corruption causes (the
broken account in the JSON and in the human output). One test runs the installed `giftwell`
program; the others invoke the same Typer app in-process, which is much faster to start.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from giftwell.cli.main import app
from giftwell.services.cards import money as card_money
from giftwell.services.runtime import Runtime
from tests import factories
from tests.conftest import TEST_SECRET

Stmt = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Ledger:
    """A small ledger with one of everything the checks look at."""

    a_card: str
    a_account: str  # card A: activate 5000, redeem 1200, refund 200 of it, hold 300, transfer 100 to B: 3900
    b_account: str  # card B: activate 1000, reload 500, transfer 100 from A: 1600
    jpy_account: str
    redeem: str
    refund: str
    hold: str
    reload: str


async def make_ledger(rt: Runtime) -> Ledger:
    t = await factories.tenant(rt)
    acct = t.account_id
    a = (await factories.card(rt, acct, currency="EUR", amount=5000)).card
    b = (await factories.card(rt, acct, currency="EUR", amount=1000)).card
    jpy = (await factories.card(rt, acct, currency="JPY", amount=3000)).card

    async def step(fn: Any) -> Any:
        async with rt.uow() as uow:
            result = await fn(uow)
            await uow.commit()
            return result

    redeem = await step(lambda u: card_money.redeem(u, account_id=acct, card_id=a.id, amount=1200))
    refund = await step(lambda u: card_money.refund(u, account_id=acct, transfer_id=redeem.transfer.id, amount=200))
    hold = await step(lambda u: card_money.redeem(u, account_id=acct, card_id=a.id, amount=300, capture=False))
    reload = await step(lambda u: card_money.reload(u, account_id=acct, card_id=b.id, amount=500))
    await step(lambda u: card_money.transfer(u, account_id=acct, card_id=a.id, to_card=b.id, amount=100))
    await step(lambda u: card_money.redeem(u, account_id=acct, card_id=jpy.id, amount=1000))
    return Ledger(
        a.id,
        a.ledger_account_id,
        b.ledger_account_id,
        jpy.ledger_account_id,
        redeem.transfer.id,
        refund.transfer.id,
        hold.transfer.id,
        reload.transfer.id,
    )


async def corrupt(rt: Runtime, *statements: Stmt, unchecked: bool = False) -> None:
    """Change the database directly, as a bad migration or a hand-made fix would. `unchecked`
    lifts the foreign-key and CHECK constraints that would refuse the damage outright."""
    if rt.engine.dialect.name == "sqlite":
        path = make_url(rt.settings.resolved_database_url).database
        assert path

        def apply() -> None:
            con = sqlite3.connect(path, isolation_level=None)
            try:
                con.execute("PRAGMA foreign_keys=OFF")  # off in a plain connection; said for the reader
                if unchecked:
                    con.execute("PRAGMA ignore_check_constraints=ON")
                con.execute("BEGIN IMMEDIATE")
                for sql, params in statements:
                    assert con.execute(sql, params).rowcount == 1, sql
                con.execute("COMMIT")
            finally:
                con.close()

        await asyncio.to_thread(apply)
        return
    async with rt.engine.begin() as conn:
        if unchecked:
            await conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # no FK triggers
            await conn.execute(
                sa.text("ALTER TABLE ledger_accounts DROP CONSTRAINT ck_ledger_accounts_available_not_negative")
            )
        for sql, params in statements:
            assert (await conn.execute(sa.text(sql), params)).rowcount == 1, sql


@pytest.fixture
def cli_env(rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    # Run from an empty directory so that no developer's .env is read.
    workdir = tmp_path / "cli"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return {
        "GIFTWELL_DATABASE_URL": rt.settings.resolved_database_url,
        "GIFTWELL_DATA_DIR": str(tmp_path / "var"),
        "GIFTWELL_SECRET_KEY": TEST_SECRET,
        "GIFTWELL_LOG_LEVEL": "warning",
    }


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str


async def verify_cli(env: dict[str, str], *, as_json: bool) -> Outcome:
    """`giftwell ledger verify [--json]`, in-process (in a thread: the command runs its own loop)."""
    args = ["ledger", "verify", *(["--json"] if as_json else [])]
    result = await asyncio.to_thread(CliRunner().invoke, app, args, env=env, catch_exceptions=False)
    return Outcome(result.exit_code, result.stdout)


def problems(doc: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(p["check"], p["account"]) for p in doc["problems"]}


async def assert_broken(env: dict[str, str], expected: set[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Exit 1 in both output forms, naming exactly `expected` (check, account) problems."""
    out = await verify_cli(env, as_json=True)
    assert out.exit_code == 1, out
    doc = json.loads(out.stdout)
    assert doc["ok"] is False
    assert problems(doc) == expected, doc["problems"]
    human = await verify_cli(env, as_json=False)
    assert human.exit_code == 1, human
    assert human.stdout.startswith(f"ledger BROKEN: {len(doc['problems'])} problem(s)"), human.stdout
    for check, account in expected:
        assert f"{check}: account {account or '-'}:" in human.stdout, human.stdout
    return list(doc["problems"])


def _giftwell_program() -> str:
    beside = Path(sys.executable).with_name("giftwell")
    found = str(beside) if beside.exists() else shutil.which("giftwell")
    assert found, "the giftwell console script is not installed (make install)"
    return found


@pytest.fixture(scope="session")
def bytecode_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pycache")


async def run_program(env: dict[str, str], pycache: Path, *args: str) -> tuple[int, str, str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GIFTWELL_")} | env
    # Each start of the program would otherwise compile every module again where bytecode writing
    # is off (PYTHONDONTWRITEBYTECODE); a cache outside the source tree makes later starts quick.
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)
    full_env["PYTHONPYCACHEPREFIX"] = str(pycache)
    proc = await asyncio.create_subprocess_exec(
        _giftwell_program(),
        *args,
        env=full_env,
        cwd=os.getcwd(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_installed_program_passes_a_clean_ledger_and_names_a_broken_account(rt, cli_env, bytecode_cache):
    led = await make_ledger(rt)

    code, out, err = await run_program(cli_env, bytecode_cache, "ledger", "verify", "--json")
    assert code == 0, (out, err)
    doc = json.loads(out)
    assert doc["ok"] is True
    assert doc["problems"] == []
    assert doc["currencies"] == {"EUR": 0, "JPY": 0}

    await corrupt(rt, ("UPDATE ledger_accounts SET balance = balance + 1 WHERE id = :id", {"id": led.a_account}))
    code, out, err = await run_program(cli_env, bytecode_cache, "ledger", "verify")
    assert code == 1, (out, err)
    assert "ledger BROKEN" in out
    assert (
        f"balance_matches_transfers: account {led.a_account}: stored 3901 but transfers sum to 3900 (card {led.a_card})"
        in out
    )


async def test_a_clean_ledger_is_ok(rt, cli_env):
    out = await verify_cli(cli_env, as_json=True)
    assert out.exit_code == 0, out
    assert json.loads(out.stdout) == {"ok": True, "accounts": 0, "transfers": 0, "currencies": {}, "problems": []}

    await make_ledger(rt)
    out = await verify_cli(cli_env, as_json=True)
    assert out.exit_code == 0, out
    doc = json.loads(out.stdout)
    assert doc["ok"] is True
    assert doc["problems"] == []
    assert doc["transfers"] == 9  # 3 activations, redeem, refund, hold, reload, transfer, JPY redeem
    # 3 cards, and per currency the issuance and redemption system accounts
    assert doc["accounts"] == 7
    human = await verify_cli(cli_env, as_json=False)
    assert human.exit_code == 0, human
    assert human.stdout.startswith("ledger ok: 7 accounts, 9 transfers")


# 1 and 2: a stored balance that its transfers do not explain; the currency no longer sums to zero.
async def test_a_card_balance_changed_behind_the_ledger(rt, cli_env):
    led = await make_ledger(rt)
    await corrupt(rt, ("UPDATE ledger_accounts SET balance = balance + 1 WHERE id = :id", {"id": led.a_account}))
    found = await assert_broken(
        cli_env, {("balance_matches_transfers", led.a_account), ("currency_sums_to_zero", None)}
    )
    sums = [p for p in found if p["check"] == "currency_sums_to_zero"]
    assert sums[0]["detail"] == "EUR accounts sum to 1, not 0"
    # The card owning the broken account is named too, so it can be found through the API.
    assert {p["check"]: p["card"] for p in found} == {
        "balance_matches_transfers": led.a_card,
        "currency_sums_to_zero": None,
    }


# 2: the same, from the other side: the balance is right but a transfer behind it is gone.
async def test_a_deleted_transfer(rt, cli_env):
    led = await make_ledger(rt)
    await corrupt(rt, ("DELETE FROM transfers WHERE id = :id", {"id": led.reload}))
    await assert_broken(cli_env, {("balance_matches_transfers", led.b_account), ("currency_sums_to_zero", None)})


# 1 alone: a transfer whose credit leg points at no account. Every stored balance still matches
# its transfers and no transfer joins two currencies, but the money credited has vanished.
async def test_a_transfer_leg_pointing_nowhere_unbalances_the_currency(rt, cli_env):
    led = await make_ledger(rt)
    await corrupt(
        rt,
        ("UPDATE transfers SET credit_account_id = 'la_GHOST' WHERE id = :id", {"id": led.redeem}),
        unchecked=True,
    )
    found = await assert_broken(cli_env, {("currency_sums_to_zero", None)})
    assert found[0]["detail"] == "EUR accounts sum to -1200, not 0"


# 2, holds: pending_out no longer the sum of the card's holds.
async def test_pending_out_changed_behind_the_ledger(rt, cli_env):
    led = await make_ledger(rt)
    await corrupt(
        rt, ("UPDATE ledger_accounts SET pending_out = pending_out + 1 WHERE id = :id", {"id": led.a_account})
    )
    found = await assert_broken(cli_env, {("holds_match_pending", led.a_account)})
    assert found[0]["detail"] == "pending_out 301 but holds sum to 300"


async def test_a_deleted_hold(rt, cli_env):
    led = await make_ledger(rt)
    await corrupt(rt, ("DELETE FROM transfers WHERE id = :id", {"id": led.hold}))
    await assert_broken(cli_env, {("holds_match_pending", led.a_account)})


# 3: negative balance (card B) and negative available (card A), each consistent with its transfers.
async def test_negative_balance_and_available(rt, cli_env):
    led = await make_ledger(rt)
    await corrupt(
        rt,
        # A's hold grows to 4100 (A's balance is 3900): available -200.
        ("UPDATE transfers SET amount = 4100, hold_amount = 4100 WHERE id = :id", {"id": led.hold}),
        ("UPDATE ledger_accounts SET pending_out = 4100 WHERE id = :id", {"id": led.a_account}),
        # B's reload of 500 becomes a redemption-like debit of 2000: 1000 + 100 - 2000 = -900.
        (
            "UPDATE transfers SET amount = 2000, debit_account_id = credit_account_id, "
            "credit_account_id = debit_account_id WHERE id = :id",
            {"id": led.reload},
        ),
        ("UPDATE ledger_accounts SET balance = -900 WHERE id = :id", {"id": led.b_account}),
        unchecked=True,
    )
    found = await assert_broken(cli_env, {("not_negative", led.a_account), ("not_negative", led.b_account)})
    details = {p["account"]: p["detail"] for p in found}
    assert details == {led.a_account: "balance 3900, available -200", led.b_account: "balance -900, available -900"}


# 4: a transfer relabelled into another currency than its accounts'.
async def test_a_transfer_in_another_currency_than_its_accounts(rt, cli_env):
    led = await make_ledger(rt)
    await corrupt(rt, ("UPDATE transfers SET currency = 'JPY' WHERE id = :id", {"id": led.redeem}))
    found = await assert_broken(cli_env, {("transfer_currency", led.a_account)})
    assert found[0]["detail"].startswith(f"transfer {led.redeem} in JPY touches EUR/EUR")


# 5: a redemption's refunded_amount that its refunds do not add up to.
async def test_refunded_amount_changed_behind_the_ledger(rt, cli_env):
    led = await make_ledger(rt)
    await corrupt(rt, ("UPDATE transfers SET refunded_amount = 1000 WHERE id = :id", {"id": led.redeem}))
    found = await assert_broken(cli_env, {("refunds_match", led.a_account)})
    assert found[0]["detail"] == f"transfer {led.redeem} records 1000 refunded, refunds sum to 200"


async def test_a_deleted_refund(rt, cli_env):
    led = await make_ledger(rt)
    await corrupt(rt, ("DELETE FROM transfers WHERE id = :id", {"id": led.refund}))
    await assert_broken(
        cli_env,
        {
            ("refunds_match", led.a_account),
            ("balance_matches_transfers", led.a_account),
            ("currency_sums_to_zero", None),
        },
    )


# 6: a card whose ledger account holds another currency.
async def test_a_card_in_another_currency_than_its_account(rt, cli_env):
    led = await make_ledger(rt)
    await corrupt(rt, ("UPDATE cards SET currency = 'KWD' WHERE id = :id", {"id": led.a_card}))
    found = await assert_broken(cli_env, {("card_currency", led.a_account)})
    assert found[0]["detail"] == f"card {led.a_card} is KWD but its account is EUR"


def test_cli_reports_an_unreachable_database_in_one_line(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from giftwell.cli.main import app as cli
    from tests import pg

    monkeypatch.setenv("GIFTWELL_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{pg.free_port()}/none")
    monkeypatch.setenv("GIFTWELL_SECRET_KEY", "an-unreachable-database-test-secret-0123456789")
    monkeypatch.setenv("GIFTWELL_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["ledger", "verify", "--json"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "database error" in result.output
