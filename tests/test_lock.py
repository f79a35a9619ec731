"""The locked versions (requirements/*.txt, written by `./dev lock`) agree with pyproject.toml.

`./dev run`, `./dev test` and CI install only what the locks name, and svyaz itself with
--no-deps: a dependency added to pyproject.toml without `./dev lock` would be missing on a
fresh machine, and a range narrowed past the pinned version would go unnoticed.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def _pins(lock: Path) -> dict[str, list[tuple[str, Marker | None]]]:
    pins: dict[str, list[tuple[str, Marker | None]]] = {}
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            name, version, marker = match.groups()
            pins.setdefault(canonicalize_name(name), []).append(
                (version, Marker(marker) if marker else None))
    return pins


def _wanted(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    if extra:
        wanted += [Requirement(r) for r in project["optional-dependencies"][extra]]
    wanted += [Requirement(line) for line in (ROOT / "requirements/build.in").read_text()
               .splitlines() if line.strip() and not line.startswith("#")]
    return wanted


@pytest.mark.parametrize(("lock", "extra"), [("run", None), ("test", "test")])
def test_every_dependency_is_pinned_within_its_range(lock: str, extra: str | None) -> None:
    pins = _pins(ROOT / "requirements" / f"{lock}.txt")
    problems = []
    for req in _wanted(extra):
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req.name}: not in requirements/{lock}.txt")
            continue
        for version, _marker in pins[name]:
            if not req.specifier.contains(version, prereleases=True):
                problems.append(f"{req.name}=={version} is outside {req.specifier}")
    assert not problems, "run ./dev lock:\n" + "\n".join(problems)


def test_every_pin_carries_hashes() -> None:
    for lock in ("run", "test"):
        text = (ROOT / "requirements" / f"{lock}.txt").read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        assert blocks
        for block in blocks:
            assert "--hash=sha256:" in block, f"{lock}: {block.splitlines()[0]} has no hash"
