"""Canned replies in ``_desk.yaml``: read with positions, checked by ``svyaz check``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bots.cli import main
from bots.desk.canned import load_canned

EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"


def _folder(tmp_path: Path, desk: str | None) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(EXAMPLES, folder)
    if desk is None:
        (folder / "_desk.yaml").unlink()
    else:
        (folder / "_desk.yaml").write_text(desk, encoding="utf-8")
    return folder


def test_the_example_replies_load() -> None:
    replies, problems = load_canned(EXAMPLES)
    assert problems == []
    assert [r.title for r in replies] == ["Часы работы", "Адрес", "Запись"]


def test_no_file_no_replies(tmp_path: Path) -> None:
    assert load_canned(tmp_path) == ((), [])


@pytest.mark.parametrize(("text", "where", "says"), [
    ("replies:\n  - title: Часы\n    txt: 10-20\n", ":3:5:", "did you mean 'text'"),
    ("replies:\n  - title: Часы\n    text: Мы: с 10\n", ":3:", "put the text in quotes"),
    ("replies:\n  - title: А\n    text: x\n  - title: А\n    text: y\n", ":4:12:",
     "used twice"),
    ("replys: []\n", ":1:1:", "unknown key 'replys'"),
])
def test_mistakes_are_named_with_their_place(tmp_path: Path, text: str, where: str,
                                             says: str) -> None:
    (tmp_path / "_desk.yaml").write_text(text, encoding="utf-8")
    replies, problems = load_canned(tmp_path)
    assert replies == ()
    said = [str(p.in_lang("en")) for p in problems]  # (the owner reads Russian by default)
    assert any(where in p and says in p for p in said), said


def test_svyaz_check_reports_the_desk_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main(["check", str(_folder(tmp_path / "good", None))]) == 0
    bad = _folder(tmp_path / "bad", "replies:\n  - title: Часы\n")
    monkeypatch.setenv("SVYAZ_LANG", "en")
    assert main(["check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "_desk.yaml:2:5: error:" in out
    assert "'text' is required" in out
