"""Durations in the owner's words: one parser (flows.durations) for before, after, within
and a test's later, and a clear message listing the forms that work."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from flows import convtest, durations, loader

MIN, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("24h", 24 * HOUR), ("24 часа", 24 * HOUR), ("1 день", DAY), ("2 дня", 2 * DAY),
        ("1h30m", 90 * MIN), ("1h 30m", 90 * MIN), ("90 минут", 90 * MIN), ("30 мин", 30 * MIN),
        ("1 неделя", 7 * DAY), ("2 недели", 14 * DAY), ("1 час 30 минут", 90 * MIN),
        ("1 час и 30 минут", 90 * MIN), ("5 суток", 5 * DAY), ("10 Минут", 10 * MIN),
        ("2 hours", 2 * HOUR), ("3 days", 3 * DAY), ("30m", 30 * MIN), ("1w", 7 * DAY),
        (" 2h ", 2 * HOUR), ("0h", timedelta(0)), ("5 ч", 5 * HOUR),
        ("сутки", DAY), ("час", HOUR), ("неделю", 7 * DAY), ("полчаса", 30 * MIN),
        ("полтора  часа", 90 * MIN),
    ],
)
def test_owner_forms(text: str, value: timedelta) -> None:
    assert durations.parse(text) == value


@pytest.mark.parametrize(
    "text", ["", "24", "h", "два часа", "2 хв", "2h30", "1.5h", "-2h", "часа", "сутки 2"])
def test_not_durations(text: str) -> None:
    assert durations.parse(text) is None


FLOW = """\
flow: visit
triggers: [{command: start}]
vars: {day: "2026-01-14", time: "15:00"}
steps:
  book:
    remind:
      - {flow: ping, at: "{{ day }} {{ time }}", before: 24 часа, key: a}
      - {flow: ping, after: 1h30m, key: b}
      - flow: ping
        at: "{{ day }} {{ time }}"
        before: 2 дня
        key: c
        critical: true
        escalate: [messenger, sms]
        within: 1 день
    say: Записали
"""
PING = "flow: ping\ntriggers: [{timer: true}]\nsteps:\n  hi:\n    say: Ждём\n"


def test_owner_words_work_in_every_duration_key(tmp_path: Path) -> None:
    (tmp_path / "visit.yaml").write_text(FLOW, encoding="utf-8")
    (tmp_path / "ping.yaml").write_text(PING, encoding="utf-8")
    flows, problems = loader.check(tmp_path, channels=("sms", "vk"))
    assert flows is not None, "\n".join(map(str, problems))
    a, b, c = flows.flows["visit"].steps["book"].remind
    assert (a.before, b.after, c.before) == (DAY, 90 * MIN, 2 * DAY)
    assert c.ladder is not None
    assert c.ladder.within == DAY
    (tmp_path / "visit.test.yaml").write_text(
        "now: '2026-01-12 10:00'\ntests:\n  - name: позже\n    turns:\n      - start: true\n"
        "      - later: 90 минут\n        timer: ping\n        bot: Ждём\n", encoding="utf-8")
    (result,) = convtest.run_folder(tmp_path, flows)
    assert result.ok, result.diff


def test_a_bad_duration_says_which_forms_work(tmp_path: Path) -> None:
    (tmp_path / "visit.yaml").write_text(FLOW.replace("1h30m", "полтора дня"), encoding="utf-8")
    (tmp_path / "ping.yaml").write_text(PING, encoding="utf-8")
    _, problems = loader.check(tmp_path)
    (problem,) = [p for p in problems if p.severity == "error"]  # (and if_past warnings)
    assert (problem.line, problem.column) == (8, 29)
    assert problem.message == (
        "шаг 'book': 'полтора дня' — не длительность; пишите число и единицу, например: "
        "30m, 2h, 1d, 1h30m, 24h, 90 минут, 24 часа, 1 день, 2 дня, 1 неделя")


def test_a_ladder_waits_at_most_a_week(tmp_path: Path) -> None:
    (tmp_path / "visit.yaml").write_text(FLOW.replace("within: 1 день", "within: 8 дней"),
                                         encoding="utf-8")
    (tmp_path / "ping.yaml").write_text(PING, encoding="utf-8")
    _, problems = loader.check(tmp_path, channels=("sms", "vk"))
    (problem,) = [p for p in problems if p.severity == "error"]  # (and if_past warnings)
    assert problem.line == 15
    assert "'within: 8 дней' — слишком долго ждать ответа до следующего канала (больше недели)" \
        in problem.message
