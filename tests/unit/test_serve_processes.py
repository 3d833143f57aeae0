"""`giftwell serve --workers N --server S`: what is refused on SQLite, and the default server."""

from __future__ import annotations

from pathlib import Path

import pytest

from giftwell.cli import processes
from giftwell.settings import load_settings
from tests.conftest import TEST_SECRET


def _settings(tmp_path: Path, url: str | None):
    return load_settings(database_url=url, data_dir=tmp_path, secret_key=TEST_SECRET)


@pytest.mark.parametrize(("workers", "server"), [(1, "uvicorn"), (2, "uvicorn"), (4, "granian"), (1, "granian")])
def test_postgresql_takes_any_worker_count_and_server(tmp_path, workers, server):
    assert processes.refuse_reason(_settings(tmp_path, "postgresql://u@h/db"), workers, server) is None


def test_sqlite_is_one_uvicorn_process(tmp_path):
    s = _settings(tmp_path, None)
    assert processes.refuse_reason(s, 1, "uvicorn") is None
    assert "--workers 3: the embedded SQLite database is served by one process" in (
        processes.refuse_reason(s, 3, "uvicorn") or ""
    )
    assert "--server granian" in (processes.refuse_reason(s, 1, "granian") or "")


def test_one_worker_is_uvicorn_in_process_several_are_granian():
    assert processes.default_server(1) == "uvicorn"
    assert [processes.default_server(n) for n in (2, 8)] == ["granian", "granian"]
