"""Imports point inward: domain imports only the standard library; services never import the
HTTP layers; no dialect imports another dialect or the native API's modules."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "giftwell"


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """Ids of nodes under `if TYPE_CHECKING:`: annotations only, no run-time dependency."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    skip = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(layer: str) -> list[Path]:
    return sorted((SRC / layer).rglob("*.py"))


def test_domain_imports_only_stdlib_and_itself():
    for path in modules("domain"):
        for name in imports_of(path):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or name.startswith("giftwell.domain"), f"{path.name} imports {name}"


@pytest.mark.parametrize("layer", ["domain", "store", "services"])
def test_inner_layers_do_not_import_outer_ones(layer):
    outer = ("giftwell.api", "giftwell.dialects", "giftwell.web", "giftwell.cli", "giftwell.jobs")
    for path in modules(layer):
        for name in imports_of(path):
            assert not name.startswith(outer), f"{layer}/{path.name} imports {name}"


def test_store_does_not_import_services():
    for path in modules("store"):
        for name in imports_of(path):
            assert not name.startswith("giftwell.services"), f"store/{path.name} imports {name}"


def test_dialects_are_independent():
    base = SRC / "dialects"
    for pkg in [p for p in base.iterdir() if p.is_dir() and not p.name.startswith("_")]:
        for path in pkg.rglob("*.py"):
            for name in imports_of(path):
                if name.startswith("giftwell.dialects."):
                    assert name.split(".")[2] == pkg.name, f"{pkg.name}/{path.name} imports {name}"
                assert not name.startswith("giftwell.api.v1"), f"{pkg.name}/{path.name} imports {name}"


def test_adapters_import_only_the_domain_of_giftwell():
    for path in modules("adapters"):
        for name in imports_of(path):
            if name.startswith("giftwell."):
                assert name.startswith(("giftwell.domain", "giftwell.adapters")), f"adapters/{path.name} imports {name}"
