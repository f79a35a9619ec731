"""Issue 16: working days and hours of ``_bot.yaml`` in flows — ``days: working``, lists of
times tied to a day (``for_day``) that hide past and closed times, ``when_empty``, and
``value > now`` for a time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

from flows import loader
from flows.engine import advance
from flows.model import FlowSet
from flows.types import StartFlowEvent, TextEvent, TimerEvent, Turn

MSK = ZoneInfo("Europe/Moscow")
MONDAY_1708 = datetime(2026, 1, 12, 17, 8, tzinfo=MSK)

BOT = """
    working:
      days: [пн-пт, сб]
      hours: "10:00-19:00"
      holidays: ["2026-01-14"]
"""
FLOW = """
    flow: visit
    steps:
      day:
        ask: Какой день?
        input: date
        days: working
        check: value >= today
        retry: Этот день уже прошёл.
        save: day
      slots:
        set:
          slots: ["09:00", "10:00", "12:30", "15:00", "17:00", "18:00", "19:30"]
      time:
        ask: "Время на {{ day }}:"
        choice_from: slots
        for_day: day
        when_empty: full
        save: time
      done:
        say: "Записали: {{ day }} {{ time }}"
        end: true
      full:
        say: На этот день мест нет, выберите другой.
        next: day
    """
CLOCK = """
    flow: clock
    steps:
      day:
        ask: День?
        input: date
        save: day
      time:
        ask: Во сколько?
        input: time
        for_day: day
        days: working
        check: value > now
        retry: Это время уже прошло.
        save: time
      done:
        say: "{{ day }} {{ time }}"
    """


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> FlowSet:
    folder = tmp_path_factory.mktemp("working")
    (folder / "_bot.yaml").write_text(dedent(BOT), encoding="utf-8")
    (folder / "visit.yaml").write_text(dedent(FLOW), encoding="utf-8")
    (folder / "clock.yaml").write_text(dedent(CLOCK), encoding="utf-8")
    return loader.load(folder)


def talk(flows: FlowSet, flow: str, *said: str, now: datetime = MONDAY_1708) -> Turn:
    turn = advance(flows, None, StartFlowEvent(flow), now)
    for text in said:
        turn = advance(flows, turn.state, TextEvent(text), now)
    return turn


def texts(turn: Turn) -> list[str]:
    return [r.text for r in turn.replies]


def buttons(turn: Turn) -> list[str]:
    return [b.text for b in turn.replies[-1].buttons]


def test_today_after_five_offers_only_the_times_still_ahead_within_hours(flows: FlowSet) -> None:
    """The example bug: «сегодня» at 17:08 offered 10:00."""
    assert buttons(talk(flows, "visit", "сегодня")) == ["18:00"]


def test_another_day_offers_every_time_within_hours(flows: FlowSet) -> None:
    assert buttons(talk(flows, "visit", "завтра")) == ["10:00", "12:30", "15:00", "17:00",
                                                      "18:00"]


def test_a_past_time_typed_is_not_taken(flows: FlowSet) -> None:
    turn = talk(flows, "visit", "сегодня", "10:00")
    assert turn.state.stack[-1].step == "time"
    assert "day" in turn.state.vars
    assert "time" not in turn.state.vars


def test_no_time_left_goes_to_when_empty(flows: FlowSet) -> None:
    late = datetime(2026, 1, 12, 18, 30, tzinfo=MSK)
    turn = talk(flows, "visit", "сегодня", now=late)
    assert texts(turn) == ["На этот день мест нет, выберите другой.", "Какой день?"]
    assert turn.state.stack[-1].step == "day"


@pytest.mark.parametrize(
    ("said", "heard"),
    [
        ("в воскресенье", "В этот день мы не работаем. Ближайший рабочий день — 19 января, "
                          "понедельник."),
        ("14.01", "В этот день мы не работаем. Ближайший рабочий день — 15 января, четверг."),
        ("вчера", "Этот день уже прошёл."),
        ("абв", "Не удалось понять дату. Напишите, например: «завтра», «25.12» или «в пятницу»."),
    ],
)
def test_a_date_off_work_has_its_own_text(flows: FlowSet, said: str, heard: str) -> None:
    assert texts(talk(flows, "visit", said)) == [heard]


def test_the_owner_text_for_a_closed_day(tmp_path: Path) -> None:
    (tmp_path / "_bot.yaml").write_text(dedent(BOT), encoding="utf-8")
    own = FLOW.replace("retry: Этот день уже прошёл.",
                       "closed: \"{{ value | weekday_ru }} у нас выходной\"")
    (tmp_path / "visit.yaml").write_text(dedent(own), encoding="utf-8")
    assert texts(talk(loader.load(tmp_path), "visit", "в воскресенье")) == [
        "воскресенье у нас выходной"
    ]


@pytest.mark.parametrize(
    ("day", "time_", "accepted"),
    [
        ("сегодня", "17:30", True),
        ("сегодня", "11:00", False),  # already past today
        ("завтра", "11:00", True),  # tomorrow any time (within hours) is later than now
        ("завтра", "20:00", False),  # closed then
    ],
)
def test_value_after_now_for_a_time(flows: FlowSet, day: str, time_: str, accepted: bool) -> None:
    turn = talk(flows, "clock", day, time_)
    assert (turn.state.stack == ()) is accepted, texts(turn)


def test_closed_time_says_the_hours(flows: FlowSet) -> None:
    assert texts(talk(flows, "clock", "завтра", "20:00")) == [
        "В это время мы не работаем. Часы работы: 10:00–19:00."
    ]


def test_without_working_hours_days_working_limits_nothing_and_check_warns(
    tmp_path: Path,
) -> None:
    (tmp_path / "visit.yaml").write_text(dedent(FLOW), encoding="utf-8")
    flows, problems = loader.check(tmp_path)
    assert flows is not None
    assert texts(talk(flows, "visit", "в воскресенье"))[0].startswith("Время на 2026-01-18")
    (warning,) = [p for p in problems if "days: working" in p.message]
    assert (warning.line, warning.severity) == (7, "warning")
    assert "working: {days: [пн-пт]" in warning.message


def test_working_hours_that_cannot_be_are_refused(tmp_path: Path) -> None:
    (tmp_path / "_bot.yaml").write_text(
        'working:\n  days: [пн-пт]\n  hours: "20:00-10:00"\n  holidays: ["31.02"]\n',
        encoding="utf-8")
    (tmp_path / "visit.yaml").write_text(dedent(FLOW), encoding="utf-8")
    flows, problems = loader.check(tmp_path)
    assert flows is None
    assert [(p.line, p.message) for p in problems if p.severity == "error"] == [
        (4, "'31.02' — такого дня не бывает; проверьте число и месяц"),
    ]
    (tmp_path / "_bot.yaml").write_text(
        'working:\n  days: [пн-пт, воскр]\n  hours: "20:00-10:00"\n', encoding="utf-8")
    _, problems = loader.check(tmp_path)
    assert [(p.line, p.message) for p in problems if p.severity == "error"] == [
        (2, "'воскр' — не день недели: пишите пн, вт, ср, чт, пт, сб, вс или промежуток, "
            "например пн-пт"),
    ]
    (tmp_path / "_bot.yaml").write_text('working:\n  hours: "20:00-10:00"\n', encoding="utf-8")
    _, problems = loader.check(tmp_path)
    assert [(p.line, p.message) for p in problems if p.severity == "error"] == [
        (2, "часы работы: конец должен быть позже начала, например 10:00-20:00"),
    ]


def test_a_slot_list_without_when_empty_is_warned(tmp_path: Path) -> None:
    (tmp_path / "visit.yaml").write_text(dedent(FLOW).replace("when_empty: full", ""),
                                         encoding="utf-8")
    _, problems = loader.check(tmp_path)
    assert any("when_empty" in p.message and p.severity == "warning" for p in problems)


def test_a_reminder_over_a_list_whose_times_passed_goes_to_when_empty(tmp_path: Path) -> None:
    """The list is asked again after the reminder; by then every time may have passed."""
    (tmp_path / "_bot.yaml").write_text(dedent(BOT), encoding="utf-8")
    (tmp_path / "visit.yaml").write_text(dedent(FLOW), encoding="utf-8")
    (tmp_path / "ping.yaml").write_text(
        "triggers: [{timer: true}]\nsteps:\n  p:\n    say: Пинг\n", encoding="utf-8")
    flows = loader.load(tmp_path)
    asked = talk(flows, "visit", "сегодня")
    assert buttons(asked) == ["18:00"]
    late = datetime(2026, 1, 12, 18, 30, tzinfo=MSK)
    turn = advance(flows, asked.state, TimerEvent("ping", "ping"), late)
    assert texts(turn) == ["Пинг", "На этот день мест нет, выберите другой.", "Какой день?"]
    assert turn.state.stack[-1].step == "day"
