"""Starting Giftwell as the README says: `giftwell serve` alone never creates demo data, and
settings or a database it cannot use stop it with one line naming the problem."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from giftwell.store.engine import create_engine
from tests.conftest import TEST_SECRET
from tests.pg import free_port
from tests.servers import giftwell_env, serve_once, start_servers, stop_servers


def _count(db_url: str, table: str) -> int:
    async def go() -> int:
        engine = create_engine(db_url)
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_serve_alone_creates_no_demo_data(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    servers = start_servers(giftwell_env(db_url, data_dir, TEST_SECRET), 1, tmp_path)
    stop_servers(servers)
    assert _count(db_url, "accounts") == 0
    assert _count(db_url, "access_tokens") == 0
    assert not (data_dir / "demo_token").exists()


def test_serve_refuses_a_short_secret_key_in_one_line(tmp_path: Path) -> None:
    env = giftwell_env(f"sqlite:///{tmp_path / 'g.db'}", tmp_path, "too-short-0123456789")
    proc = serve_once(env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: GIFTWELL_SECRET_KEY must be at least 32 characters"


def test_serve_names_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    env = giftwell_env("mysql://u@127.0.0.1/db", tmp_path, TEST_SECRET)
    proc = serve_once(env)
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == "error: GIFTWELL_DATABASE_URL: must be sqlite:///path or postgresql://user@host:port/db"
    )


def test_serve_reports_an_unreachable_database_in_one_line(tmp_path: Path) -> None:
    env = giftwell_env(f"postgresql://nobody@127.0.0.1:{free_port()}/giftwell", tmp_path, TEST_SECRET)
    proc = serve_once(env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: database error:"), proc.stderr


def test_worker_reports_an_unreachable_database_in_one_line(tmp_path: Path) -> None:
    env = giftwell_env(f"postgresql://nobody@127.0.0.1:{free_port()}/giftwell", tmp_path, TEST_SECRET)
    proc = subprocess.run(
        [sys.executable, "-m", "giftwell", "worker"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: database error:"), proc.stderr
