"""svyaz check reads the conversation tests (*.test.yaml) too: YAML, shape, names that point
nowhere and a press of a button the bot did not offer, each at its line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows import convcheck, loader
from flows.problems import Problem

EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"
HEAD = "now: '2026-01-12 10:00'\ntests:\n  - name: запись\n    turns:\n"


def check(tmp_path: Path, turns: str, lang: str = "ru") -> list[Problem]:
    folder = tmp_path / "flows"
    shutil.copytree(EXAMPLES, folder)
    for old in folder.glob("*.test.yaml"):
        old.unlink()
    (folder / "x.test.yaml").write_text(HEAD + turns, encoding="utf-8")
    flows = loader.load(folder)
    return convcheck.check_tests(folder, flows, lang=lang)  # type: ignore[arg-type]


def one(found: list[Problem]) -> Problem:
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def test_the_examples_tests_have_no_problems() -> None:
    assert convcheck.check_tests(EXAMPLES, loader.load(EXAMPLES)) == []


def test_a_press_of_a_button_not_offered_names_the_buttons_there_are(tmp_path: Path) -> None:
    problem = one(check(tmp_path, "      - say: записаться\n      - press: Стрижкаа\n"))
    assert (problem.line, problem.column) == (6, 16)
    assert problem.message == ("тест нажимает кнопку 'Стрижкаа', которой бот не предлагал; "
                               "может быть, 'Стрижка'?; кнопки: Стрижка, Окрашивание, Укладка")


def test_a_press_with_no_buttons_on_screen(tmp_path: Path) -> None:
    problem = one(check(tmp_path, "      - press: Стрижка\n", "en"))
    assert problem.line == 5
    assert "the bot's last reply has no buttons" in problem.message


@pytest.mark.parametrize(
    ("turns", "line", "column", "words"),
    [
        ("      - say: записаться\n        at: booking/servise\n", 6, 13,
         "в сценарии 'booking' нет шага 'servise'; может быть, 'service'?"),
        ("      - say: записаться\n        at: bookin/service\n", 6, 13,
         "сценария 'bookin' нет; может быть, 'booking'?"),
        ("      - say: записаться\n        at: service\n", 6, 13, "'at: сценарий/шаг'"),
        ("      - flow: order_confirmatio\n", 5, 15, "сценария 'order_confirmatio' нет"),
        ("      - timer: visit_remindr\n", 5, 16, "может быть, 'visit_reminder'?"),
        ("      - later: полдня\n", 5, 16, "'полдня' — не длительность"),
        ("      - sya: привет\n", 5, 9, "неизвестный ключ 'sya'; может быть, 'say'?"),
        ("      - say: Приём: завтра\n", 5, 19, "в тексте есть ': '"),
    ],
)
def test_a_mistake_in_a_test_file(
    tmp_path: Path, turns: str, line: int, column: int, words: str
) -> None:
    problem = one(check(tmp_path, turns))
    assert (problem.line, problem.column, problem.severity) == (line, column, "error")
    assert words in problem.message
