"""What owners actually hit while writing flows: each mistake, one clear Russian line at the
culprit's place (a tab, a text YAML splits or cuts, a date read as a number, indentation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows import loader
from flows.problems import Problem


def problems(folder: Path, text: str) -> list[Problem]:
    (folder / "a.yaml").write_text(text, encoding="utf-8")
    return list(loader.check(folder)[1])


def one(found: list[Problem]) -> Problem:
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


GOOD_TAIL = "  b:\n    say: Пока\n"


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        pytest.param("steps:\n  a:\n\tsay: Привет\n", 3, 1,
                     ["табуляции", "замените табуляцию пробелами"], id="tab-indent"),
        pytest.param("steps:\n  a:\n    say: Привет\n    next:\tb\n" + GOOD_TAIL, 4, 10,
                     ["табуляции"], id="tab-after-colon"),
        pytest.param("steps:\n  a:\n    say: Приём: с 10 до 18\n", 3, 15,
                     ["в тексте есть ': '", "say: \"…\""], id="colon-in-text"),
        pytest.param("steps:\n  a:\n    ask: ? Как вас зовут\n", 3, 10,
                     ["'? ' в начале текста", "в кавычки"], id="question-mark"),
        pytest.param("steps:\n  a:\n    say: Привет\n   next: b\n" + GOOD_TAIL, 4, 4,
                     ["неверный отступ в строке 4"], id="indent-less"),
        pytest.param("steps:\n  a:\n    say: Привет\n      next: b\n" + GOOD_TAIL, 4, 7,
                     ["строка 4 сдвинута правее"], id="indent-more"),
        pytest.param("steps:\n  a:\n    say Привет\n    next: b\n" + GOOD_TAIL, 3, 5,
                     ["после ключа нет двоеточия"], id="no-colon"),
        pytest.param("steps:\n a:\n    say: Привет\n    next: b\n" + GOOD_TAIL, 2, 2,
                     ["неверный отступ в строке 2"], id="indent-of-an-earlier-line"),
        pytest.param("# мой бот\n  flow: a\nsteps:\n  a:\n    say: Привет\n", 2, 1,
                     ["неверный отступ в строке 2"], id="indented-first-key"),
        pytest.param("steps:\n  a:\n    say: Привет\n    next: b\n    b:\n    say: Пока\n"
                     "    next: c\n  c:\n    say: x\n", 5, 5,
                     ["у строки 'b:' лишний отступ", "'say' там повторился (строки 3 и 6)"],
                     id="step-indented-too-far"),
        pytest.param("steps:\n  a:\n    say: Привет\n  b:\n     say: Пока\n    next: a\n", 5, 6,
                     ["неверный отступ в строке 5"], id="step-keys-one-space-too-far"),
        pytest.param("steps:\n  a:\n    choice:\n      - Да\n     - Нет\n", 5, 6,
                     ["неверный отступ в строке 5"], id="indent-list"),
        pytest.param("steps:\n  a:\n    say: \"Привет\n    next: b\n", 3, 10,
                     ["кавычка открыта здесь и не закрыта"], id="open-quote"),
        pytest.param("steps:\n  a:\n    say: \"Салон\" ждёт\n", 3, 18,
                     ["после закрывающей кавычки или скобки идёт ещё текст"],
                     id="text-after-quote"),
        pytest.param("steps:\n  a:\n    say:\n    Привет\n", 4, 5,
                     ["строка без 'ключ:'"], id="text-without-key"),
        pytest.param("steps:\n  a:\n    say: Привет\n  next: b\n" + GOOD_TAIL, 4, 3,
                     ["'next' стоит на уровне шагов, а это ключ шага: сдвиньте строку вправо"],
                     id="step-key-at-steps-level"),
        pytest.param("steps:\n  a:\n  say: Привет\n" + GOOD_TAIL, 3, 3,
                     ["'say' стоит на уровне шагов"], id="step-keys-not-indented"),
        pytest.param("steps:\n  a:\n" + GOOD_TAIL, 2, 3,
                     ["шаг 'a' пустой: напишите под ним с отступом"], id="empty-step"),
        pytest.param("steps:\n  a:\n    ask: Да?\n    choice: [Да, Нет: не хочу]\n", 4, 18,
                     ["в элементе списка 'choice' есть ': '", "[\"Нет: не хочу\"]"],
                     id="colon-in-list-item"),
        pytest.param("steps:\n  a:\n    ask: Когда?\n    choice:\n      - Утро: 9-12\n"
                     "      - Вечер\n", 5, 9, ["в элементе списка 'choice' есть ': '"],
                     id="colon-in-block-list-item"),
        pytest.param("steps:\n  a:\n    say: @anna, ждём\n", 3, 10,
                     ["текст не может начинаться с '@' без кавычек"], id="starts-with-at"),
        pytest.param("steps:\n  a:\n    say: *Акция* сегодня\n", 3, 10,
                     ["текст не может начинаться с '*' без кавычек"], id="starts-with-star"),
        pytest.param("steps:\n  a:\n    say: *Sale* today\n", 3, 10,
                     ["текст не может начинаться с '*' без кавычек"], id="undefined-alias"),
        pytest.param("steps:\n  a:\n    say: !Attention\n", 3, 10,
                     ["текст не может начинаться с '!' без кавычек"], id="unknown-tag"),
        pytest.param("steps:\n  a:\n    say: [Акция] сегодня\n", 3, 18,
                     ["после закрывающей кавычки или скобки идёт ещё текст"],
                     id="text-after-bracket"),
    ],
)
def test_a_yaml_mistake_is_one_russian_line_at_the_culprit(
    tmp_path: Path, text: str, line: int, column: int, words: list[str]
) -> None:
    problem = one(problems(tmp_path, text))
    assert (problem.line, problem.column, problem.severity) == (line, column, "error"), problem
    assert str(problem).startswith(f"{tmp_path / 'a.yaml'}:{line}:{column}: ошибка: ")
    for word in words:
        assert word in problem.message, problem
    assert "\n" not in str(problem)


def test_a_text_cut_at_hash_is_a_warning_with_the_fix(tmp_path: Path) -> None:
    problem = one(problems(tmp_path, "steps:\n  a:\n    say: Ваш заказ #123 принят\n"))
    assert (problem.line, problem.column, problem.severity) == (3, 10, "warning")
    assert "оставит только «Ваш заказ»" in problem.message
    assert "если «#123 принят» — часть текста, возьмите весь текст в кавычки" in problem.message


def test_a_comment_after_a_step_name_is_not_a_cut_text(tmp_path: Path) -> None:
    text = "steps:\n  a:\n    say: 'Привет'  # приветствие\n    next: b  # дальше\n"
    assert problems(tmp_path, text + GOOD_TAIL) == []


def test_a_date_written_unquoted_where_text_is_needed(tmp_path: Path) -> None:
    text = "steps:\n  a:\n    ask: Когда?\n    choice: [31.02, \"01.03\"]\n"
    problem = one(problems(tmp_path, text))  # the error only, not also the YAML note
    assert (problem.line, problem.column) == (4, 14)
    assert "YAML прочитал 31.02 как число, а здесь нужен текст; возьмите в кавычки: " \
           "\"31.02\"" in problem.message


def test_a_time_written_unquoted_keeps_its_source_text(tmp_path: Path) -> None:
    text = "steps:\n  a:\n    ask: Когда?\n    choice: [\"10:00\", 11.00]\n"
    problem = next(p for p in problems(tmp_path, text) if p.severity == "error")
    assert "прочитал 11.00 как число" in problem.message  # not 11.0


def test_a_date_set_as_a_number_is_a_warning(tmp_path: Path) -> None:
    text = "steps:\n  a:\n    set: {day: 31.02, price: 10.50}\n    say: '{{ day }}'\n"
    problem = one(problems(tmp_path, text))
    assert (problem.line, problem.column, problem.severity) == (3, 16, "warning")
    assert "YAML прочитал 31.02 как число, а не как дату" in problem.message


def test_english_on_request(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("steps:\n  a:\n\tsay: hi\n", encoding="utf-8")
    (problem,) = loader.check(tmp_path, lang="en")[1]
    assert str(problem).endswith(": error: a tab character: YAML indents with spaces only; "
                                 "replace the tab with spaces")


def test_a_colon_in_a_list_item_s_text_is_no_indentation_mistake(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nsteps:\n  start:\n    say: Привет\n"
                                     "    next:\n      - if: 'true'\n"
                                     "        then: Мы: с 10\n", encoding="utf-8")
    _, problems = loader.check(tmp_path)
    (problem,) = problems
    assert "возьмите текст в кавычки" in problem.message, problem.message
