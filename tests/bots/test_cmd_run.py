"""bots.cmd_run: a bad configuration or broken flows stop `svyaz run` before anything starts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bots.cli import main


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SVYAZ_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(tmp_path / "data"))


def test_contradictory_settings_one_line_each(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "flows").mkdir()
    monkeypatch.setenv("SVYAZ_FLOWS", "flows")
    monkeypatch.setenv("SVYAZ_MAX_TOKEN", "t")
    monkeypatch.setenv("SVYAZ_MAX_MODE", "webhook")
    assert main(["run"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "svyaz: не могу запуститься, исправьте настройки:"
    assert len(err) == 2
    assert "SVYAZ_MAX_WEBHOOK_SECRET" in err[1]
    assert not (tmp_path / "data").exists()  # nothing was started


def test_broken_flows_are_listed_and_nothing_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "x.yaml").write_text("flow: x\nsteps:\n  a: {nxt: b}\n", "utf-8")
    monkeypatch.setenv("SVYAZ_FLOWS", "flows")
    assert main(["run"]) == 1
    err = capsys.readouterr().err
    assert "x.yaml:3:7" in err
    assert "может быть, 'next'?" in err
    assert not (tmp_path / "data").exists()
