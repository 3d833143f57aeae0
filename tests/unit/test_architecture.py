"""The architecture is enforced, not hoped for.

`make test` runs `lint-imports`, which checks the contracts in pyproject.toml (layers, surfaces
and dialects independent, dialects without store access, the store below the services, no import
loops at any depth). These tests check that the contracts exist as written, and that they bite:
a copy of the package with one deliberately wrong import fails `lint-imports`, a TYPE_CHECKING
import included. They also hold the module size limit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "giftwell"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 400


def config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def test_contracts_cover_layers_surfaces_dialects_store_and_loops():
    cfg = config()
    assert cfg["root_package"] == "giftwell"
    assert cfg["include_external_packages"] is False
    assert cfg["exclude_type_checking_imports"] is False
    by_id = {c["id"]: c for c in cfg["contracts"]}
    assert by_id["layers"]["type"] == "layers"
    assert by_id["layers"]["layers"] == [
        "giftwell.cli",
        "giftwell.app",
        "giftwell.api | giftwell.dialects | giftwell.web | giftwell.jobs",
        "giftwell.http",
        "giftwell.services",
        "giftwell.store | giftwell.adapters",
        "giftwell.settings | giftwell.keys | giftwell.telemetry",
        "giftwell.domain",
    ]
    assert by_id["capabilities"]["type"] == "layers"
    assert by_id["capabilities"]["containers"] == ["giftwell.services"]
    layers = by_id["capabilities"]["layers"]
    # Money moves below everything that sells or sends it; webhooks see everything.
    assert layers.index("webhooks") < layers.index("orders") < layers.index("delivery") < layers.index("catalog")
    assert layers.index("catalog") < layers.index("cards | funding") < layers.index("access | ledger")
    assert layers[-3:] == ["events | audit", "queue", "runtime | pagination | currencies"]
    assert by_id["surfaces"]["type"] == "independence"
    assert set(by_id["surfaces"]["modules"]) == {"giftwell.api", "giftwell.dialects", "giftwell.web", "giftwell.jobs"}
    assert by_id["dialects"] == {**by_id["dialects"], "type": "independence", "modules": ["giftwell.dialects.*"]}
    assert by_id["dialects-translate"]["forbidden_modules"] == ["giftwell.store"]
    assert by_id["store-below-services"]["forbidden_modules"] == ["giftwell.services", "giftwell.http"]
    assert by_id["acyclic"]["type"] == "acyclic_siblings"
    assert by_id["acyclic"]["ancestors"] == ["giftwell"]


def lint_copy(tmp_path: Path, edits: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the project's contracts over a copy of the package with `edits`
    (a path under giftwell/ -> text appended to it)."""
    shutil.copytree(SRC, tmp_path / "giftwell", ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    for rel, text in edits.items():
        path = tmp_path / "giftwell" / rel
        path.write_text(path.read_text() + "\n" + text + "\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_as_it_is_keeps_every_contract(tmp_path):
    done = lint_copy(tmp_path, {})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("edits", "broken"),
    [
        # The domain reaching for the database.
        ({"domain/money.py": "from giftwell.store import uow"}, "Layers: imports point inward"),
        # A service importing a surface for its types only, under TYPE_CHECKING: still an import.
        (
            {
                "services/cards/reads.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from giftwell.api import errors"
            },
            "Layers: imports point inward",
        ),
        # One surface reaching into another.
        ({"web/session.py": "from giftwell.api import errors"}, "Surfaces are independent"),
        # A dialect opening its own transaction.
        ({"dialects/sanctum/wire.py": "from giftwell.store import uow"}, "Dialects translate only"),
        # The store reaching up to the runtime.
        ({"store/uow.py": "from giftwell.services import runtime"}, "The store never reaches up"),
        # A loop between two capability packages.
        ({"services/ledger/transfers.py": "from giftwell.services.cards import reads"}, "No import loops"),
        # A capability reaching up: the ledger does not know orders.
        ({"services/ledger/verify.py": "from giftwell.services.orders import views"}, "Capability packages"),
    ],
    ids=[
        "domain-to-store",
        "type-checking-import",
        "surface-to-surface",
        "dialect-to-store",
        "store-up",
        "loop",
        "capability-up",
    ],
)
def test_a_wrong_import_fails_lint_imports(tmp_path, edits, broken):
    done = lint_copy(tmp_path, edits)
    assert done.returncode != 0, done.stdout
    assert f"{broken}" in done.stdout
    assert "BROKEN" in done.stdout.split(broken, 1)[1].splitlines()[0]


def test_no_module_is_over_400_lines():
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if "migrations" not in p.parts and (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
