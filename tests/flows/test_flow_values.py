"""Issue 16: button synonyms, ``_bot.yaml`` ``vars:`` shared by flows, templated reminder
keys (several bookings per customer) and a reminder whose time has passed (``if_past``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

from flows import loader
from flows.engine import advance
from flows.model import FlowSet
from flows.types import (
    ButtonEvent,
    ReminderPassed,
    ScheduleReminder,
    StartFlowEvent,
    TextEvent,
    Turn,
)

NOW = datetime(2026, 1, 12, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))
BOT = """
    vars:
      phone: "+7 495 000-00-00"
      price: 1500
"""
FLOWS = {
    "ask.yaml": """
        flow: ask
        steps:
          q:
            ask: "Стрижка стоит {{ price | money }}. Записать? Телефон: {{ phone }}"
            choice:
              yes: [Да, Конечно, Ага]
              no: [Нет, стоп]
              later: Потом
            next: {yes: y, no: n, later: n}
          y:
            say: "Да! {{ phone }}"
            end: true
          n:
            say: Нет.
        """,
    "items.yaml": """
        flow: items
        steps:
          q:
            ask: Что?
            choice:
              - {id: tea, text: Чай, also: [чаёк, чаю]}
              - Кофе
            save: pick
        """,
    "book.yaml": """
        flow: book
        expects: [day, booking_id]
        steps:
          book:
            remind:
              - flow: ask
                at: "{{ day }} 12:00"
                before: 24h
                key: "visit-{{ booking_id }}"
                if_past: "Напомнить за сутки уже не успеем — ждём вас!"
            say: Записали.
        """,
}


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> FlowSet:
    folder = tmp_path_factory.mktemp("values")
    (folder / "_bot.yaml").write_text(dedent(BOT), encoding="utf-8")
    for name, text in FLOWS.items():
        (folder / name).write_text(dedent(text), encoding="utf-8")
    return loader.load(folder)


def start(flows: FlowSet, flow: str, **vars_: str) -> Turn:
    return advance(flows, None, StartFlowEvent(flow, vars_), NOW)


@pytest.mark.parametrize(("said", "heard"), [("ага", "Да!"), ("Конечно!", "Да!"),
                                             ("да", "Да!"), ("потом", "Нет."), ("1", "Да!"),
                                             ("стоп", "Нет.")])  # not the command «стоп»
def test_a_button_answers_to_the_synonyms_the_owner_lists(
    flows: FlowSet, said: str, heard: str
) -> None:
    turn = advance(flows, start(flows, "ask").state, TextEvent(said), NOW)
    assert turn.replies[0].text.startswith(heard)


def test_a_synonym_is_not_a_button(flows: FlowSet) -> None:
    turn = start(flows, "ask")
    assert [b.text for b in turn.replies[0].buttons] == ["Да", "Нет", "Потом"]
    items = start(flows, "items")
    assert [b.id for b in items.replies[0].buttons] == ["tea", "Кофе"]
    chosen = advance(flows, items.state, TextEvent("Чаю"), NOW)
    assert chosen.state.vars["pick"] == "tea"
    pressed = advance(flows, turn.state, ButtonEvent("yes"), NOW)
    assert pressed.replies[0].text.startswith("Да!")


def test_bot_vars_are_seen_by_every_flow_and_stay_out_of_the_state(flows: FlowSet) -> None:
    turn = start(flows, "ask")
    assert turn.replies[0].text == ("Стрижка стоит 1\u00a0500\u00a0₽. Записать? "
                                    "Телефон: +7 495 000-00-00")
    assert "phone" not in turn.state.vars
    own = advance(flows, start(flows, "ask", phone="+7 999 111-22-33").state,
                  TextEvent("да"), NOW)
    assert own.replies[0].text == "Да! +7 999 111-22-33"  # the dialogue's own value wins


def test_bot_vars_are_known_to_check(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("steps:\n  a:\n    say: '{{ phone }}'\n", encoding="utf-8")
    _, problems = loader.check(tmp_path)
    assert any("'phone'" in p.message and p.severity == "error" for p in problems)
    (tmp_path / "_bot.yaml").write_text("vars: {phone: '1'}\n", encoding="utf-8")
    flows, problems = loader.check(tmp_path)
    assert flows is not None
    assert problems == ()


def test_working_hours_are_said_from_the_one_working_declaration(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "flow: a\nsteps:\n  a:\n    say: 'Ответим {{ working_days }}, {{ working_hours }}'\n",
        encoding="utf-8")
    _, problems = loader.check(tmp_path)  # no working: the names are defined nowhere
    assert {p.severity for p in problems if "working_" in p.message} == {"error"}
    (tmp_path / "_bot.yaml").write_text(
        "working: {days: [пн-пт, сб], hours: '10:00-20:00'}\n", encoding="utf-8")
    flows, problems = loader.check(tmp_path)
    assert flows is not None
    assert problems == ()
    turn = start(flows, "a")
    assert turn.replies[0].text == "Ответим пн-пт, сб, 10:00–20:00"
    assert "working_hours" not in turn.state.vars
    (tmp_path / "_bot.yaml").write_text(  # the owner's own value of the same name wins
        "working: {hours: '10:00-20:00'}\nvars: {working_hours: с утра}\n", encoding="utf-8")
    flows, problems = loader.check(tmp_path)
    assert flows is not None
    assert start(flows, "a").replies[0].text == "Ответим ежедневно, с утра"


def test_two_bookings_keep_two_reminders(flows: FlowSet) -> None:
    first = start(flows, "book", day="2026-01-20", booking_id="17")
    second = start(flows, "book", day="2026-01-22", booking_id="18")
    keys = [e.key for t in (first, second) for e in t.effects if isinstance(e, ScheduleReminder)]
    assert keys == ["visit-17", "visit-18"]


def test_a_past_reminder_is_reported_and_its_text_said(flows: FlowSet) -> None:
    turn = start(flows, "book", day="2026-01-12", booking_id="19")  # today 12:00: < 24h
    assert [r.text for r in turn.replies] == ["Записали.",
                                              "Напомнить за сутки уже не успеем — ждём вас!"]
    assert turn.effects == (
        ReminderPassed(key="visit-19", at=datetime(2026, 1, 11, 9, 0, tzinfo=UTC), flow="ask"),
    )


def test_check_warns_of_a_reminder_that_may_pass_unsaid(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(dedent("""
        flow: a
        triggers: [{timer: true}]
        expects: [day]
        steps:
          a:
            remind: {flow: a, at: "{{ day }} 10:00", before: 24h}
            say: Напомним за сутки.
    """), encoding="utf-8")
    _, problems = loader.check(tmp_path)
    (warning,) = problems
    assert (warning.line, warning.severity) == (7, "warning")
    assert "if_past" in warning.message
    text = (tmp_path / "a.yaml").read_text(encoding="utf-8")
    (tmp_path / "a.yaml").write_text(text.replace("before: 24h", "before: 24h, if_past: b"),
                                     encoding="utf-8")
    _, problems = loader.check(tmp_path)
    assert [p.message for p in problems] == ["шаг 'a': шага 'b' нет; шаги: a"]
