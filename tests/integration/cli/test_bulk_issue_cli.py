"""`giftwell cards issue-bulk` on both databases: 20,000 cards, the process killed (SIGKILL) mid-way
and the same command run again. Exactly 20,000 cards, each once in the codes file (mode 0600),
each code unique, hashed and encrypted as any card's, `ledger verify` passing; the file of a
finished run is never written again, and a file that is not a run's is never overwritten."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from giftwell.app import build_runtime
from giftwell.domain import codes
from giftwell.settings import load_settings
from giftwell.store.models import Card, CardMetadata, CardSearch, LedgerAccount
from tests.servers import cli, giftwell_env

pytestmark = pytest.mark.slow

SECRET = "bulk-issue-test-secret-0123456789-abcdefghijkl"
COUNT, BATCH = 20_000, 1000


def data_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()[2:]


def kill_midway(env: dict[str, str], args: list[str], out: Path) -> int:
    """Start the command, SIGKILL it once it has written 3 batches of codes; the lines written."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "giftwell", *args, "--batch-size", str(BATCH), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while not (out.exists() and len(data_lines(out)) >= 3 * BATCH):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "no progress in 300 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return len(data_lines(out))


async def test_killed_and_resumed_issues_each_card_once(db_url: str, tmp_path: Path) -> None:
    env = giftwell_env(db_url, tmp_path / "var", SECRET)
    _, ops = cli(env, "accounts", "create", "ops", "--operator")
    out = tmp_path / "codes.csv"
    args = ["cards", "issue-bulk", "--count", str(COUNT), "--amount", "2500", "--currency", "EUR", "--out", str(out)]
    written = kill_midway(env, args, out)

    _, done = cli(env, *args, "--batch-size", str(BATCH))
    assert done["issued"] == COUNT
    assert done["finished"] is True
    # Killed with up to one batch written but not committed: cut from the file, made afresh.
    assert written - BATCH <= done["resumed_from"] <= written < COUNT
    assert out.stat().st_mode & 0o777 == 0o600

    lines = data_lines(out)
    pairs = [ln.split(",") for ln in lines]
    assert len(pairs) == COUNT
    assert len({c for c, _ in pairs}) == COUNT
    assert len({code for _, code in pairs}) == COUNT

    rt = build_runtime(load_settings(database_url=db_url, data_dir=tmp_path / "var", secret_key=SECRET))
    try:
        async with rt.reader() as uow:
            rows = (
                await uow.conn.execute(
                    sa.select(Card.id, Card.code_hash, Card.code_encrypted, Card.code_last4, LedgerAccount.balance)
                    .join(LedgerAccount, LedgerAccount.id == Card.ledger_account_id)
                    .where(Card.account_id == ops["id"])
                )
            ).all()
            # The card query sees them as any card: their text (the code's suffix) and metadata.
            searchable = await uow.conn.scalar(
                sa.select(sa.func.count()).select_from(CardSearch).where(CardSearch.account_id == ops["id"])
            )
            tagged = await uow.conn.scalar(
                sa.select(sa.func.count()).select_from(CardMetadata).where(CardMetadata.key == "bulk_issue")
            )
        assert (searchable, tagged) == (COUNT, COUNT)
        by_id = {r.id: r for r in rows}
        assert set(by_id) == {c for c, _ in pairs}
        for card_id, code in random.Random(1).sample(pairs, 50):
            r = by_id[card_id]
            assert r.code_hash == rt.keys.code_hash(ops["id"], codes.normalize(code))
            assert rt.keys.decrypt(r.code_encrypted, aad=f"code:{card_id}") == code
            assert (r.code_last4, r.balance) == (codes.last4(code), 2500)
    finally:
        await rt.close()
    _, verify = cli(env, "ledger", "verify")
    assert verify["ok"] is True

    # A finished run: the file is not written again, no card is added.
    before = out.read_bytes()
    _, again = cli(env, *args)
    assert again["issued"] == COUNT
    assert out.read_bytes() == before


async def test_refuses_a_file_that_is_not_a_run(db_url: str, tmp_path: Path) -> None:
    env = giftwell_env(db_url, tmp_path / "var", SECRET)
    cli(env, "accounts", "create", "ops", "--operator")
    out = tmp_path / "precious.txt"
    out.write_text("keep me\n")
    rc, err = cli(
        env,
        "cards",
        "issue-bulk",
        "--count",
        "5",
        "--amount",
        "100",
        "--currency",
        "EUR",
        "--out",
        str(out),
        check=False,
    )
    assert rc != 0
    assert err["error"]["param"] == "out"
    assert out.read_text() == "keep me\n"
