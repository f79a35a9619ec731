"""storage/'s modules import one another one way: no module imports one that imports it back,
even lazily or for types only (``storage.client`` once imported ``storage.store`` to build it)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import storage

STORAGE = Path(storage.__file__).parent


def _imports(path: Path) -> set[str]:
    """The storage modules ``path`` imports anywhere (top level, in functions, for types)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module
                 else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        found |= {name.split(".")[1] for name in names if name.startswith("storage.")}
    return found


def import_cycle(folder: Path) -> list[str] | None:
    graph = {path.stem: _imports(path) for path in folder.glob("*.py")}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle: list[str] = exc.args[1]
        return cycle
    return None


def test_storage_modules_import_each_other_without_a_cycle() -> None:
    assert import_cycle(STORAGE) is None
