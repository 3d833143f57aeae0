"""`giftwell backup` copies the embedded database consistently while a server serves redemptions;
`giftwell restore` refuses while a server runs, and the restored copy passes `ledger verify`;
PostgreSQL is pointed to its own tools."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.servers import cli, giftwell_env, start_servers, stop_servers

pytestmark = pytest.mark.slow


def test_backup_while_serving_and_restore(tmp_path: Path) -> None:
    db = tmp_path / "live" / "giftwell.db"
    env = giftwell_env(f"sqlite:///{db}", tmp_path / "live", TEST_SECRET)
    cli(env, "db", "upgrade")
    cli(env, "accounts", "create", "shop")
    _, tok = cli(env, "tokens", "create", "--account", "shop", "--scope", "cards:write", "--scope", "cards:redeem")
    servers = start_servers(env, 1, tmp_path)
    stop = threading.Event()
    answered: list[int] = []

    def load() -> None:
        headers = {"Authorization": f"Bearer {tok['token']}"}
        with httpx.Client(base_url=servers[0].url, headers=headers, timeout=30) as http:
            card = http.post("/v1/cards", json={"currency": "EUR", "amount": 100_000}).json()["id"]
            while not stop.is_set():
                answered.append(http.post(f"/v1/cards/{card}/redeem", json={"amount": 1}).status_code)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        while len(answered) < 20:
            time.sleep(0.05)
        code, out = cli(env, "backup", str(tmp_path / "copies" / "snap.db"))
        assert code == 0
        assert out["revision"]
        time.sleep(0.3)
        # Restoring over a served database is refused.
        code, err = cli(env, "restore", str(tmp_path / "copies" / "snap.db"), "--yes", check=False)
        assert code == 2
        assert "while a server runs" in err["error"]["message"]
    finally:
        stop.set()
        loader.join()
        stop_servers(servers)
    assert set(answered) == {200}

    restored_env = giftwell_env(
        f"sqlite:///{tmp_path / 'restored' / 'giftwell.db'}", tmp_path / "restored", TEST_SECRET
    )
    code, out = cli(restored_env, "restore", str(tmp_path / "copies" / "snap.db"))
    assert code == 0
    code, err = cli(restored_env, "restore", str(tmp_path / "copies" / "snap.db"), check=False)
    assert code == 2
    assert "--yes" in err["error"]["message"]
    code, report = cli(restored_env, "ledger", "verify")
    assert code == 0
    assert report["ok"] is True
    # The copy holds a prefix of the redemptions, all of them whole.
    assert 20 <= report["transfers"] <= len(answered) + 2
    code, err = cli(restored_env, "restore", str(tmp_path / "nothing.db"), "--yes", check=False)
    assert code == 2


def test_postgresql_is_pointed_to_its_own_tools(tmp_path: Path) -> None:
    env = giftwell_env("postgresql://u@127.0.0.1:1/db", tmp_path, TEST_SECRET)
    code, err = cli(env, "backup", str(tmp_path / "x.db"), check=False)
    assert code == 2
    assert "pg_dump" in err["error"]["message"]
