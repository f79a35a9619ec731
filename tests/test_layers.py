"""Imports point one way: flows <- storage, connectors <- bots (STYLE.md point 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"flows", "storage", "connectors", "bots"}
ALLOWED = {
    "flows": set(),
    "storage": {"flows"},
    "connectors": {"flows"},
    "bots": {"flows", "storage", "connectors"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_allowed_layers(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    bad = [
        f"{path.relative_to(ROOT)} imports {dep}"
        for path in files
        for dep in imported_packages(path) - ALLOWED[package] - {package}
    ]
    assert not bad, "layer violations:\n" + "\n".join(bad)


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "m.py"
    bad.write_text("from storage.keys import Keys\nimport bots.app\n", encoding="utf-8")
    assert imported_packages(bad) == {"storage", "bots"}
