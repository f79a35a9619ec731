"""Issue 16: while a question is open, a trigger fires only on its exact phrase (or its
button). «отменить запись» at the date question restarted booking because it contains
«запись»; now it is a (refused) answer and the question stays; global commands still work."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flows import loader
from flows.engine import advance
from flows.types import DialogState, TextEvent, Turn

EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))
FLOWS = loader.load(EXAMPLES)


def play(*said: str) -> tuple[DialogState | None, Turn]:
    state: DialogState | None = None
    turn = None
    for text in said:
        turn = advance(FLOWS, state, TextEvent(text), NOW)
        state = turn.state
    assert turn is not None
    return state, turn


def position(state: DialogState | None) -> str:
    assert state is not None
    frame = state.stack[-1]
    return f"{frame.flow}/{frame.step}"


def test_a_phrase_containing_a_trigger_word_is_an_answer_while_a_question_is_open() -> None:
    at_date, _ = play("записаться", "Стрижка", "Анна")
    where = position(at_date)
    state, turn = play("записаться", "Стрижка", "Анна", "отменить запись")
    assert position(state) == where  # still asking for the day
    assert "Какую услугу" not in " ".join(r.text for r in turn.replies)


def test_the_exact_trigger_phrase_still_starts_its_flow() -> None:
    state, turn = play("записаться", "Стрижка", "Анна", "записаться")
    assert "Какую услугу" in turn.replies[-1].text
    assert position(state).startswith("booking/")


def test_with_no_question_open_a_phrase_containing_the_word_still_triggers() -> None:
    _, turn = play("хочу записаться к вам")
    assert "Какую услугу" in turn.replies[-1].text


def test_global_commands_still_work_while_a_question_is_open() -> None:
    """Only flow triggers wait for an exact phrase: «меню» and «отмена» leave the open date
    question, «помощь» explains and asks it again."""
    state, turn = play("записаться", "Стрижка", "Анна", "меню")
    assert [r.text for r in turn.replies] == ["Чем могу помочь?"]
    assert position(state) == "start/menu"
    state, turn = play("записаться", "Стрижка", "Анна", "отмена")
    assert [r.text for r in turn.replies] == ["Хорошо, отменили.", "Чем могу помочь?"]
    assert position(state) == "start/menu"
    state, turn = play("записаться", "Стрижка", "Анна", "помощь")
    assert turn.replies[-1].text.startswith("На какой день записать?")
    assert position(state) == "booking/day"
