"""Issue 16: an answer that cannot be read and an answer that was read and refused get two
texts (``unreadable`` and ``retry``), both able to show ``value`` and ``answer``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

from flows import loader, texts
from flows.engine import advance
from flows.model import FlowSet
from flows.types import DialogState, StartFlowEvent, TextEvent

NOW = datetime(2026, 1, 12, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))  # Monday

FLOW = """
    flow: f
    steps:
      day:
        ask: Какой день?
        input: date
        check: value >= today
        retry: "{{ value | date_full_ru }} уже прошло («{{ answer }}»)."
        save: day
      guests:
        ask: Сколько гостей?
        input: number
        min: 1
        max: 8
        retry: "{{ value }} — многовато, можно от 1 до 8."
        unreadable: "«{{ answer }}» — не число. Напишите цифрами."
        save: guests
      pick:
        ask: Что выбрать?
        choice: [Чай, Кофе]
        retry: Выберите кнопкой.
      done:
        say: ok
"""


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> FlowSet:
    folder = tmp_path_factory.mktemp("answers")
    (folder / "f.yaml").write_text(dedent(FLOW), encoding="utf-8")
    return loader.load(folder)


def at(flows: FlowSet, step: str, text: str) -> list[str]:
    state = advance(flows, None, StartFlowEvent("f"), NOW).state
    state = DialogState(stack=(state.stack[0].model_copy(update={"step": step}),))
    return [r.text for r in advance(flows, state, TextEvent(text), NOW).replies]


@pytest.mark.parametrize(
    ("said", "heard"),
    [
        ("абв", texts.DATE_HELP),  # not «… уже прошло»: the example bug
        ("12345", texts.DATE_HELP),
        ("31.02", "В феврале нет 31-го числа. Проверьте дату."),
        ("вчера", "11 января, воскресенье уже прошло («вчера»)."),
        ("завтра", "Сколько гостей?"),
    ],
)
def test_a_date_unreadable_or_refused(flows: FlowSet, said: str, heard: str) -> None:
    assert at(flows, "day", said) == [heard]


@pytest.mark.parametrize(
    ("said", "heard"),
    [
        ("много", "«много» — не число. Напишите цифрами."),
        ("12", "12 — многовато, можно от 1 до 8."),
        ("3", "Что выбрать?"),
    ],
)
def test_a_number_unreadable_or_out_of_range(flows: FlowSet, said: str, heard: str) -> None:
    assert at(flows, "guests", said) == [heard]


def test_without_check_retry_still_answers_an_unreadable_choice(flows: FlowSet) -> None:
    """Backward compatible: before ``unreadable``, ``retry`` was a choice's only text."""
    assert at(flows, "pick", "сок") == ["Выберите кнопкой."]


def test_answer_is_known_to_the_failure_texts_only(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(dedent("""
        steps:
          a:
            ask: Код?
            unreadable: "«{{ answer }}» не подходит"
          b:
            say: "{{ answer }}"
    """), encoding="utf-8")
    _, problems = loader.check(tmp_path)
    assert [(p.line, p.severity) for p in problems if "answer" in p.message] == [(7, "error")]


def test_a_misspelt_name_in_retry_or_unreadable_is_an_error_of_check(tmp_path: Path) -> None:
    """Issue 16: `retry: "Дата {{ valeu }} не подходит"` reached the customer as «сценарий
    изменился»; now check refuses it, as in any other text (`value`, `answer` are known)."""
    (tmp_path / "f.yaml").write_text(dedent("""
        steps:
          day:
            ask: Когда?
            input: date
            check: "{{ value >= today }}"
            retry: "Дата {{ valeu }} не подходит, а {{ value }} и «{{ answer }}» — да"
            unreadable: "«{{ anwser }}» не дата"
            save: day
    """), encoding="utf-8")
    flows, problems = loader.check(tmp_path, lang="en")
    assert flows is None
    found = [(p.line, p.severity, p.message.split("?")[0]) for p in problems]
    assert found == [
        (7, "error", "step 'day': the variable 'valeu' is not saved or set by any flow; did "
                     "you mean 'value'"),
        (8, "error", "step 'day': the variable 'anwser' is not saved or set by any flow; did "
                     "you mean 'answer'"),
    ]
