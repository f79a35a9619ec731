"""bots.cmd_run: a bad configuration or broken flows stop `svyaz run` before anything starts."""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp import web

from bots import cmd_run
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


async def test_the_running_bot_freezes_its_start_up_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    """``svyaz run`` registers ``settle_heap`` after the parts' start-up; it freezes what
    start-up built and raises the young generation's threshold (its CPU: bench/README.md)."""
    served: list[web.Application] = []
    monkeypatch.setattr("bots.app.build_app", lambda _settings: web.Application())
    monkeypatch.setattr(cmd_run, "new_loop", lambda _kind: None)
    monkeypatch.setattr(cmd_run.web, "run_app", lambda app, **_: served.append(app))
    settings = SimpleNamespace(host="127.0.0.1", port=8080, event_loop="asyncio",
                               http_idle_timeout=15.0)
    cmd_run._serve(settings)  # type: ignore[arg-type]
    assert served[0].on_startup[-1] is cmd_run.settle_heap
    thresholds = gc.get_threshold()
    try:
        await cmd_run.settle_heap(served[0])
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (cmd_run.GC_YOUNG, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_log_records_skip_what_the_format_does_not_show(monkeypatch: pytest.MonkeyPatch) -> None:
    """``svyaz run``'s format shows time, level, logger and message: records skip the
    caller's frame, thread and process (the turn's INFO line costs less; bench/README.md)."""
    for name in ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing"):
        monkeypatch.setattr(logging, name, getattr(logging, name))
    cmd_run._setup_logging()
    record = logging.getLogger("svyaz.test").makeRecord(
        "svyaz.test", logging.INFO, "f.py", 1, "turn customer=%s", ("c1",), None)
    assert (logging._srcfile, record.thread, record.process) == (None, None, None)
    assert record.getMessage() == "turn customer=c1"
