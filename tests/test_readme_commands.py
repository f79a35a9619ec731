"""Issue 16: a README tells the owner how to call ``svyaz`` (the virtual environment's path,
or activating it) before it first tells them to run ``svyaz check``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOW = re.compile(r"\.venv/bin/svyaz|source \.venv/bin/activate")


@pytest.mark.parametrize("readme", ["README.md", "flows_examples/README.md"])
def test_how_to_call_svyaz_comes_before_svyaz_check(readme: str) -> None:
    text = (ROOT / readme).read_text(encoding="utf-8")
    first_check = re.search(r"(?<![/\w])svyaz check", text)
    how = HOW.search(text)
    assert first_check is not None
    assert how is not None, f"{readme} never says how to call svyaz"
    assert how.start() < first_check.start(), f"{readme} says 'svyaz check' before how to call it"
