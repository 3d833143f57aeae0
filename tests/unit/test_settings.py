"""Settings refused at start-up name the variable to fix, in one line, never as a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from giftwell.settings import SettingsError, load_settings

SECRET = "s" * 16 + "-0123456789abcdef"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GIFTWELL_DATABASE_URL", "GIFTWELL_SECRET_KEY", "GIFTWELL_PORT", "GIFTWELL_HOLD_TTL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_a_secret_key_shorter_than_32_characters_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="GIFTWELL_SECRET_KEY must be at least 32 characters"):
        load_settings(data_dir=tmp_path, secret_key="x" * 31)
    assert load_settings(data_dir=tmp_path, secret_key="y" * 32).secret == "y" * 32


def test_postgresql_needs_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="GIFTWELL_SECRET_KEY must be set"):
        load_settings(data_dir=tmp_path, database_url="postgresql://u@127.0.0.1:5432/db")


@pytest.mark.parametrize(
    "url", ["postgresql://u@127.0.0.1:5432/db", "postgres://u@db.internal:6432/giftwell", "sqlite:///x/y.db"]
)
def test_plain_database_urls_are_accepted(tmp_path: Path, url: str) -> None:
    assert load_settings(data_dir=tmp_path, database_url=url, secret_key=SECRET).resolved_database_url == url


@pytest.mark.parametrize("url", ["mysql://u@h/db", "giftwell.db", "postgresql:/db"])
def test_an_unsupported_database_url_is_refused_naming_the_variable(tmp_path: Path, url: str) -> None:
    with pytest.raises(SettingsError, match=r"^GIFTWELL_DATABASE_URL: must be sqlite:///path or postgresql://"):
        load_settings(data_dir=tmp_path, database_url=url, secret_key=SECRET)


def test_a_malformed_value_names_its_variable_and_hides_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIFTWELL_PORT", "eighty")
    monkeypatch.setenv("GIFTWELL_HOLD_TTL_SECONDS", "0")
    with pytest.raises(SettingsError) as info:
        load_settings(data_dir=tmp_path, secret_key=SECRET)
    message = str(info.value)
    assert "GIFTWELL_PORT: Input should be a valid integer" in message
    assert "GIFTWELL_HOLD_TTL_SECONDS: Input should be greater than or equal to 1" in message
    assert "eighty" not in message
    assert "\n" not in message
