"""svyaz check / chat / test / graph / schema, run through bots.cli.main as a user would."""

from __future__ import annotations

import io
import json
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bots.cli import main
from bots.flowchat import describe, parse_clock, render_reply
from flows.types import Button, CallHttp, CancelReminder, Ladder, Reply, ScheduleReminder

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = str(ROOT / "flows_examples")
MSK = ZoneInfo("Europe/Moscow")
PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+\.yaml):(?P<line>\d+):(?P<col>\d+): error: .+")

BROKEN_TYPO = """\
flow: typo
title: Опечатка
triggers:
  - text: [опечатка]
steps:
  hello:
    say: Привет
    nxt: bye
  bye:
    say: Пока
    goto: pay
"""
BROKEN_YAML = """\
flow: syntax
steps:
  a:
    say: "не закрыта
  b: [
"""

REMINDER_FLOW = """\
flow: visit
title: Визит
triggers:
  - command: start
steps:
  when:
    ask: Когда?
    input: datetime
    save: at
  done:
    say: Записала на {{ at | datetime_ru }}.
    remind:
      flow: ping
      at: "{{ at }}"
      before: 1h
      key: visit
    end: true
"""
PING_FLOW = """\
flow: ping
triggers:
  - timer: true
expects: [at]
steps:
  ping:
    say: Напоминаем о визите в {{ at | time_ru }}!
    end: true
"""


@pytest.fixture(autouse=True)
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the English words; tests/bots/test_check_russian.py the Russian."""
    monkeypatch.setenv("SVYAZ_LANG", "en")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def chat(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    lines: list[str],
    *argv: str,
) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    code, out, _ = run(capsys, "chat", *argv)
    return code, out


# --------------------------------------------------------------------------- check


def test_check_examples_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", EXAMPLES)
    assert code == 0, out
    assert "error" not in out
    assert out.strip().splitlines()[-1].startswith(f"{EXAMPLES}: ok, ")


def test_check_reports_every_error_with_position(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "typo.yaml").write_text(BROKEN_TYPO, encoding="utf-8")
    (tmp_path / "syntax.yaml").write_text(BROKEN_YAML, encoding="utf-8")
    code, out, _ = run(capsys, "check", str(tmp_path))
    assert code == 1
    problems = [m for m in map(PROBLEM_LINE.match, out.splitlines()) if m]
    by_file: dict[str, list[int]] = {}
    for match in problems:
        by_file.setdefault(Path(match["file"]).name, []).append(int(match["line"]))
    assert by_file == {"typo.yaml": [8, 11], "syntax.yaml": [4]}, out
    assert re.search(r"typo\.yaml:8:5: error: .*'nxt'.*did you mean 'next'", out)
    assert re.search(r"typo\.yaml:11:11: error: .*'pay'", out)
    assert re.search(r"syntax\.yaml:4:10: error: a quote opens here and is never closed", out)
    assert out.strip().splitlines()[-1] == f"{tmp_path}: 3 error(s), 0 warning(s)"


def test_check_missing_folder_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "check", str(tmp_path / "nowhere"))
    assert code == 1
    assert re.match(rf"^{re.escape(str(tmp_path / 'nowhere'))}:1:1: error: ", out)


def test_check_uses_svyaz_flows_by_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SVYAZ_FLOWS", EXAMPLES)
    code, out, _ = run(capsys, "check")
    assert code == 0
    assert EXAMPLES in out


# --------------------------------------------------------------------------- schema


def test_schema_writes_valid_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "flows.schema.json"
    code, out, _ = run(capsys, "schema", "--out", str(target))
    assert code == 0
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["$schema"].startswith("https://json-schema.org/")
    assert "steps" in document["properties"]
    assert str(target) in out


def test_schema_to_stdout_and_settings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    assert "steps" in json.loads(out)["properties"]
    code, out, _ = run(capsys, "schema", "--settings")
    assert code == 0
    assert json.loads(out)["title"] != json.loads(run(capsys, "schema")[1])["title"]


# --------------------------------------------------------------------------- graph


def test_graph_prints_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "graph", "visit_reminder", "--folder", EXAMPLES)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "flowchart TD"
    assert lines[1].startswith("  start((")
    assert any("remind" in line and "{{" in line for line in lines)  # a question node
    assert any("-->|come|" in line for line in lines)  # a labelled choice edge
    assert any("stop((end))" in line for line in lines)


def test_graph_of_every_example_flow(capsys: pytest.CaptureFixture[str]) -> None:
    for path in sorted(Path(EXAMPLES).glob("*.yaml")):
        if path.name.startswith("_") or path.name.endswith(".test.yaml"):
            continue
        code, out, _ = run(capsys, "graph", path.stem, "--folder", EXAMPLES)
        assert code == 0, path
        assert "missing" not in out, path  # every edge reaches a drawn step


def test_graph_unknown_flow(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "graph", "no_such_flow", "--folder", EXAMPLES)
    assert code == 2
    assert "booking" in err


def test_graph_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    mmd, gv, svg = tmp_path / "b.mmd", tmp_path / "b.dot", tmp_path / "b.svg"
    assert run(capsys, "graph", "booking", "--folder", EXAMPLES, "--out", str(mmd))[0] == 0
    assert mmd.read_text(encoding="utf-8").startswith("flowchart TD")
    assert run(capsys, "graph", "booking", "--folder", EXAMPLES, "--out", str(gv))[0] == 0
    assert gv.read_text(encoding="utf-8").startswith('digraph "booking" {')
    code, _, err = run(capsys, "graph", "booking", "--folder", EXAMPLES, "--out", str(svg))
    if shutil.which("dot"):
        assert code == 0
        assert "<svg" in svg.read_text(encoding="utf-8")
    else:
        assert code == 1
        assert "Graphviz" in err
        assert not svg.exists()


# --------------------------------------------------------------------------- chat


def test_chat_buttons_by_number(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = chat(capsys, monkeypatch, ["1", "стрижку", "/state", "/quit", "never sent"],
                     EXAMPLES, "--now", "2026-12-23 10:00")  # fmt: skip
    assert code == 0
    assert "1. Стрижка   2. Окрашивание   3. Укладка" in out
    assert "Какую услугу" in out
    assert "К какому мастеру" in out
    state = json.loads(out.strip().splitlines()[-1])
    assert state["x"]["service"] == "Стрижка"


def test_chat_moves_the_clock_and_fires_reminders(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "visit.yaml").write_text(REMINDER_FLOW, encoding="utf-8")
    (tmp_path / "ping.yaml").write_text(PING_FLOW, encoding="utf-8")
    lines = ["завтра в 15:00", "/time", "/time +1d", "/time 2026-12-24 14:00", "/time +1w"]
    code, out = chat(capsys, monkeypatch, lines, str(tmp_path), "--now", "2026-12-23 10:00")
    assert code == 0
    assert "Записала на 24 декабря в 15:00." in out
    assert "[remind] 'visit' at 2026-12-24 14:00 -> flow ping" in out
    assert "pending [remind] 'visit'" in out
    # +1d is 2026-12-24 10:00: not due yet; 14:00 fires it exactly once.
    before, _, after = out.partition("[time] 2026-12-24 14:00")
    assert "Напоминаем" not in before
    assert after.count("Напоминаем о визите в 15:00!") == 1
    assert "[reminder] 'visit' fires" in after


def test_chat_start_flow_and_bad_commands(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["/time soon", "/flow nope", "/help"]
    code, out = chat(capsys, monkeypatch, lines, EXAMPLES, "--flow", "booking")
    assert code == 0
    assert "Какую услугу" in out
    assert "(use /time +1d" in out
    assert "no flow 'nope'" in out
    assert "/phone NUMBER" in out


def test_chat_refuses_a_broken_folder(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "typo.yaml").write_text(BROKEN_TYPO, encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = run(capsys, "chat", str(tmp_path))
    assert code == 1
    assert "typo.yaml:" in err


# --------------------------------------------------------------------------- test


def test_conversation_tests_of_the_examples_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "test", EXAMPLES)
    assert code == 0, out
    assert "PASS " in out
    assert "FAIL " not in out
    assert re.search(r": \d+ passed, 0 failed$", out.strip())


PING_TESTS = """\
now: "2026-12-23 10:00"
tests:
  - name: ping says the time
    vars: {at: "2026-12-24T15:00"}
    turns:
      - timer: ping
        bot: Напоминаем о визите в 15:00!
  - name: a wrong expectation
    vars: {at: "2026-12-24T15:00"}
    turns:
      - timer: ping
        bot: Совсем другой текст
"""


def test_failing_conversation_test_shows_a_diff(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "ping.yaml").write_text(PING_FLOW, encoding="utf-8")
    (tmp_path / "ping.test.yaml").write_text(PING_TESTS, encoding="utf-8")
    code, out, _ = run(capsys, "test", str(tmp_path))
    assert code == 1
    assert "PASS " in out
    assert "ping says the time" in out
    assert "FAIL " in out
    assert "a wrong expectation" in out
    assert "Совсем другой текст" in out  # the diff names what was expected
    assert out.strip().endswith("1 passed, 1 failed")


def test_no_conversation_tests(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "ping.yaml").write_text(PING_FLOW, encoding="utf-8")
    code, out, _ = run(capsys, "test", str(tmp_path))
    assert code == 5
    assert "no conversation tests" in out


# --------------------------------------------------------------------------- pieces


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("+1d", datetime(2026, 12, 24, 10, 0, tzinfo=MSK)),
        ("+2h", datetime(2026, 12, 23, 12, 0, tzinfo=MSK)),
        ("+30m", datetime(2026, 12, 23, 10, 30, tzinfo=MSK)),
        ("+1w", datetime(2026, 12, 30, 10, 0, tzinfo=MSK)),
        ("+1d2h", datetime(2026, 12, 24, 12, 0, tzinfo=MSK)),
        ("2026-12-31 23:59", datetime(2026, 12, 31, 23, 59, tzinfo=MSK)),
        ("2026-12-31T08:00", datetime(2026, 12, 31, 8, 0, tzinfo=MSK)),
        ("+1x", None),
        ("+", None),
        ("+1d junk", None),
        ("tomorrow", None),
    ],
)
def test_parse_clock(arg: str, expected: datetime | None) -> None:
    assert parse_clock(arg, datetime(2026, 12, 23, 10, 0, tzinfo=MSK)) == expected


def test_readable_replies_and_effects() -> None:
    reply = Reply(
        "Оплатить?\nСумма 100 ₽",
        buttons=(Button("yes", "Да"), Button("pay", "Оплатить", url="https://pay.example/1")),
        request_phone=True,
    )
    text = render_reply(reply, "en")
    assert text.splitlines()[0] == "bot: Оплатить?"
    assert "     1. Да\n     [link] Оплатить -> https://pay.example/1" in text
    assert "/phone" in text
    at = datetime(2026, 12, 24, 7, 0, tzinfo=ZoneInfo("UTC"))
    reminder = ScheduleReminder(key="k", at=at, flow="ping", vars={"a": 1})
    assert (
        describe(reminder, "Europe/Moscow", "en")
        == "[remind] 'k' at 2026-12-24 10:00 -> flow ping {'a': 1}"
    )
    assert describe(CancelReminder("k"), lang="en") == "[cancel reminder] 'k'"
    call = CallHttp("c1", "POST", "https://crm.example/x", json={"id": 1})
    assert describe(call, lang="en") == "[http] POST https://crm.example/x {'id': 1}"


def test_chat_shows_a_critical_reminders_ladder() -> None:
    at = datetime(2026, 12, 24, 7, 0, tzinfo=ZoneInfo("UTC"))
    ladder = Ladder(rungs=("messenger", "sms", "email"), within=timedelta(hours=2))
    reminder = ScheduleReminder("visit-24h", at, "visit_reminder", {"a": 1}, critical=True,
                                ladder=ladder)
    assert describe(reminder, "Europe/Moscow", "en") == (
        "[remind] 'visit-24h' at 2026-12-24 10:00 -> flow visit_reminder "
        "[critical; escalate: messenger → sms → email until answered within 2h] {'a': 1}"
    )
    only_critical = ScheduleReminder("k", at, "ping", critical=True)
    assert describe(only_critical, lang="en") == (
        "[remind] 'k' at 2026-12-24 07:00 -> flow ping [critical]")


CRITICAL_FLOW = """\
flow: visit
triggers: [{command: start}]
steps:
  book:
    remind:
      flow: visit
      after: 1h
      critical: true
      escalate: [messenger, max]  # a channel every install has (sms comes with the registry)
      urgent: true
    say: Записали
"""


def test_chat_prints_the_ladder_of_a_reminder_the_flow_sets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "visit.yaml").write_text(CRITICAL_FLOW, encoding="utf-8")
    code, out = chat(capsys, monkeypatch, ["/quit"], str(tmp_path))
    assert code == 0
    assert ("-> flow visit [critical; escalate: messenger → max until answered within 2h; "
            "urgent: also at night]") in out, out


LINKS_TO_ICQ = """\
flow: hello
steps:
  start:
    say: Привет!
    next: move
  move:
    link_channel: icq
"""


def test_check_knows_the_channels_of_the_registry(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The flow language names no channel: ``link_channel`` is checked against the installed
    ones (connectors.registry), and the editor schema lists them."""
    (tmp_path / "hello.yaml").write_text(LINKS_TO_ICQ, encoding="utf-8")
    code, out, _ = run(capsys, "check", str(tmp_path))
    assert code == 1
    assert re.search(r"hello\.yaml:7:19: error: .*no channel 'icq' here; write one of: "
                     r"max, vk, web, or any", out), out
    (tmp_path / "hello.yaml").write_text(LINKS_TO_ICQ.replace("icq", "max"), encoding="utf-8")
    assert run(capsys, "check", str(tmp_path))[0] == 0
    step = json.loads(run(capsys, "schema")[1])["$defs"]["Step"]
    names = [o.get("enum") for o in step["properties"]["link_channel"]["anyOf"]]
    assert ["vk", "max", "web", "any"] in names  # not the send-only ones


def test_chat_notes_come_in_order_and_choices_are_numbered_like_the_bots_text(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["записаться", "1", "1", "завтра", "1", "да", "Анна", "/quit"]
    code, out = chat(capsys, monkeypatch, lines, EXAMPLES, "--now", "2026-12-23 10:00")
    assert code == 0
    text = out.splitlines()
    consent = text.index("  [consent] granted (text version 2024-06)")
    assert text[consent + 1] == "bot: Как вас зовут?"  # the note before the next question
    profile = text.index("  [profile] name = Анна")
    assert text[profile + 1].startswith("bot: Ваш номер телефона?")
    assert text[consent - 2:consent] == [  # links are not numbered: "3" is no choice
        "     1. Да   2. Нет", "     [link] Политика обработки данных -> https://example.ru/privacy"]
