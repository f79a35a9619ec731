"""flows.loader: every problem of a folder at once, each with file:line:col and a fix."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from flows import loader
from flows.problems import FlowLoadError, Problem

EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def errors(folder: Path) -> list[Problem]:
    _, problems = loader.check(folder, lang="en")
    return [p for p in problems if p.severity == "error"]


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


GOOD = """
flow: good
steps:
  hello:
    ask: Как дела?
    choice: [Хорошо, Плохо]
    next:
      Хорошо: fine
      Плохо: sorry
  fine:
    say: Отлично!
    end: true
  sorry:
    say: Жаль.
"""


def test_examples_load_without_problems() -> None:
    flows, problems = loader.check(EXAMPLES)
    assert problems == ()
    assert flows is not None
    assert {"start", "booking", "order_confirmation", "visit_reminder"} <= set(flows.flows)
    assert flows.flows["booking"].title == "Запись на приём"


def test_done_criterion_three_errors_in_two_files_in_one_run(tmp_path: Path) -> None:
    """A typo'd key and a dangling goto in one flow, a YAML syntax error in another."""
    write(
        tmp_path,
        "a.yaml",
        """
        flow: a
        steps:
          first:
            say: Привет
            nxt: second
          second:
            ask: Имя?
            save: name
            goto: pay
        """,
    )
    write(
        tmp_path,
        "b.yaml",
        """
        flow: b
        steps:
          one:
            say: [не закрыто
          two:
            say: ok
        """,
    )
    with pytest.raises(FlowLoadError) as caught:
        loader.load(tmp_path, lang="en")
    found = [p for p in caught.value.problems if p.severity == "error"]
    assert [(Path(p.file).name, p.line) for p in found] == [
        ("a.yaml", 5),
        ("a.yaml", 9),
        ("b.yaml", 4),
    ], "\n".join(map(str, found))
    typo, goto, syntax = found
    assert "unknown key 'nxt'; did you mean 'next'?" in typo.message
    assert "'pay' points to no step; steps are: first, second" in goto.message
    assert "'[' or '{' opens here and is never closed" in syntax.message  # the culprit line
    assert str(caught.value).count(": error: ") == 3


def test_typo_and_dangling_goto_reported_together(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        flow: a
        steps:
          first:
            say: Привет
            nxt: second
          second:
            ask: Имя?
            save: name
            goto: pay
        """,
    )
    write(tmp_path, "b.yaml", "flow: b\nsteps:\n  one:\n    say: [не закрыто\n  two: {}\n")
    found = errors(tmp_path)
    text = "\n".join(map(str, found))
    assert len(found) == 3, text
    typo, goto, syntax = found
    assert (Path(typo.file).name, typo.line, typo.column) == ("a.yaml", 5, 5)
    assert "unknown key 'nxt'; did you mean 'next'?" in typo.message
    assert (Path(goto.file).name, goto.line, goto.column) == ("a.yaml", 9, 11)
    assert "'pay' points to no step" in goto.message
    assert "steps are: first, second" in goto.message
    assert (Path(syntax.file).name, syntax.line) == ("b.yaml", 4)
    assert "opens here and is never closed" in syntax.message
    assert str(typo).startswith(f"{typo.file}:5:5: error: ")


def test_yes_no_on_off_stay_words(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        steps:
          q:
            ask: Да или нет?
            input: yesno
            next: {yes: y, no: n}
          y: {say: on, end: true}
          n: {say: off}
        """,
    )
    flows = loader.load(tmp_path, lang="en")
    step = flows.flows["a"].steps["y"]
    assert step.say is not None
    assert step.say.render({}) == "on"


@pytest.mark.parametrize(
    ("step", "line", "column", "words"),
    [
        (
            "    input: numbr\n",
            4,
            12,
            ["'numbr' is not allowed", "did you mean 'number'?", "allowed: text, number"],
        ),
        (
            "    choice: [А, Б]\n    next: {А: a, В: a}\n",
            5,
            18,
            ["'В' is not one of the answers", "answers are: А, Б"],
        ),
        ("    max_tries: много\n", 4, 16, ["'max_tries' should be a whole number", "'много'"]),
        (
            "    remind: {flow: a, after: два часа}\n",
            4,
            30,
            ["'два часа' is not a duration; write a number and a unit, e.g. 30m, 2h",
             "24 часа, 1 день"],
        ),
        ("    link_channel: VK\n", 4, 19, ["'VK' is not a channel name: use lower-case"]),
        ("    check: value >\n", 4, 12, ["template error"]),
        (
            "    next: [{if: value, then: a}, {els: a}]\n",
            4,
            35,
            ["unknown key 'els'; did you mean 'else'?"],
        ),
        ("    on_fail: nowhere\n", 4, 14, ["'nowhere' points to no step"]),
        ("    call: bookng\n", 4, 11, ["the flow 'bookng' does not exist"]),
    ],
)
def test_one_mistake_one_clear_message(
    tmp_path: Path, step: str, line: int, column: int, words: list[str]
) -> None:
    write(
        tmp_path,
        "a.yaml",
        "steps:\n  a:\n    ask: Вопрос?\n"
        + step.replace("    call: bookng\n", "")
        + "  b:\n    say: ok\n"
        + ("    call: bookng\n" if "call:" in step else ""),
    )
    problem = only(errors(tmp_path))
    if "call:" in step:
        line, column = 6, 11
    assert (problem.line, problem.column) == (line, column), str(problem)
    for word in words:
        assert word in problem.message, str(problem)


def test_every_problem_of_a_file_at_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        triggers:
          - comand: start
        steps:
          a:
            ask: Сколько?
            input: number
            retyr: Число, пожалуйста
          b:
            remind: {flow: a, at: "{{ day }}", befor: 2h}
        """,
    )
    found = errors(tmp_path)
    assert [(p.line, p.message.split(";")[0]) for p in found] == [
        (2, "trigger 1: unknown key 'comand'"),
        (7, "step 'a': unknown key 'retyr'"),
        (9, "step 'b': unknown key 'befor'"),
    ]


def test_duplicate_key_is_an_error_not_a_silent_override(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "steps:\n  a:\n    say: раз\n    say: два\n")
    problem = only(errors(tmp_path))
    assert (problem.line, problem.column) == (4, 5)
    assert "written twice" in problem.message


def test_conflicting_keys(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        steps:
          a:
            ask: Телефон?
            http: {url: "https://x"}
            end: true
            next: a
          b:
            say: привет
            save: x
        """,
    )
    messages = [p.message for p in errors(tmp_path)]
    assert any("only one of ask, http, call" in m for m in messages)
    assert any("'end: true' with 'next'" in m for m in messages)
    assert any("'save' only makes sense with 'ask'" in m for m in messages)


def test_duplicate_flow_names_and_missing_reminder_flow(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "flow: same\nsteps:\n  a:\n    remind: {flow: nope, after: 1h}\n")
    write(tmp_path, "b.yaml", "flow: same\nsteps:\n  a:\n    say: hi\n")
    messages = [p.message for p in errors(tmp_path)]
    assert any("'same' is already used" in m for m in messages)
    assert any("reminder flow 'nope' does not exist" in m for m in messages)


def test_settings_file_is_checked(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "_bot.yaml", "menu: god\ntexts:\n  falback: Не понял\n")
    found = errors(tmp_path)
    assert [(Path(p.file).name, p.line, p.column) for p in found] == [
        ("_bot.yaml", 1, 7),
        ("_bot.yaml", 3, 3),
    ]
    assert "the flow 'god' does not exist; did you mean 'good'?" in found[0].message
    assert "unknown key 'falback'; did you mean 'fallback'?" in found[1].message


def test_profile_without_any_consent_step_is_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "steps:\n  a:\n    ask: Имя?\n    save: name\n    profile: name\n")
    _, problems = loader.check(tmp_path, lang="en")
    assert [(p.severity, p.line, p.column) for p in problems] == [("warning", 5, 14)]
    assert "will never be stored" in problems[0].message


def test_warnings_unreachable_and_silent_loop(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        steps:
          a:
            say: раз
            next: b
          b:
            say: два
            next: a
          lonely:
            ask: Меня никто не спросит?
        """,
    )
    flows, problems = loader.check(tmp_path, lang="en")
    assert flows is not None
    assert [(p.severity, p.line) for p in problems] == [
        ("warning", 2),
        ("warning", 5),
        ("warning", 8),
    ]
    assert "in a loop without any question" in problems[0].message
    assert "'lonely' is never reached" in problems[2].message
    assert flows.warnings == problems


def test_not_utf8_empty_and_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes("steps: {a: {say: привет}}".encode("cp1251"))
    assert "not UTF-8" in only(errors(tmp_path)).message
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no flows" in only(errors(empty)).message
    assert "no such folder" in only(errors(tmp_path / "missing")).message


def test_test_files_and_settings_are_not_flows(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "a.test.yaml", "tests: []\n")
    write(tmp_path, "_bot.yaml", "env: {CRM: ''}\n")
    flows = loader.load(tmp_path, environ={"CRM": "https://crm", "OTHER": "x"})
    assert list(flows.flows) == ["good"]
    assert flows.env == {"CRM": "https://crm"}


def test_a_variable_nothing_defines_is_an_error_with_the_line_that_fixes_it(
    tmp_path: Path,
) -> None:
    """Issue 16: `{{ servise }}` would fail in front of a customer, so it no longer loads; the
    message says which line declares a name the business's system passes."""
    write(
        tmp_path,
        "a.yaml",
        """
        vars: {shop: Ромашка}
        steps:
          a:
            ask: Услуга?
            save: service
          b:
            say: "{{ shop }}: {{ servise }} на {{ today }}"
          c:
            next: [{if: "value and env.X and consnt", then: a}]
        """,
    )
    flows, problems = loader.check(tmp_path, lang="en")
    assert flows is None
    assert [(p.line, p.severity, p.message) for p in problems] == [
        (7, "error", "step 'b': the variable 'servise' is not saved or set by any flow; did "
                     "you mean 'service'? If the business's system passes it when it starts "
                     "the flow, declare it: add 'expects: [servise]' at the top of a.yaml"),
        (9, "error", "step 'c': the variable 'consnt' is not saved or set by any flow; did "
                     "you mean 'consent'? If the business's system passes it when it starts "
                     "the flow, declare it: add 'expects: [consnt]' at the top of a.yaml"),
    ]


def test_expects_and_a_reminders_vars_define_variables(tmp_path: Path) -> None:
    write(
        tmp_path,
        "order.yaml",
        """
        expects: [order_id]
        steps:
          confirm:
            say: "Заказ {{ order_id }} принят"
            remind: {flow: ping, after: 1h, key: p, vars: {visit: "{{ order_id }}"}}
        """,
    )
    write(tmp_path, "ping.yaml", 'steps:\n  p:\n    say: "Визит {{ visit }}"\n')
    flows, problems = loader.check(tmp_path, lang="en")
    assert flows is not None, problems
    assert [p for p in problems if "variable" in p.message] == []


def test_a_template_helper_is_never_suggested_for_a_misspelt_variable(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", 'steps:\n  a:\n    say: "Врач {{ docter }}"\n')
    problem = only(errors(tmp_path))
    assert "'docter' is not saved or set by any flow. If" in problem.message
    assert "dict" not in problem.message


def test_an_invitation_text_that_would_fail_when_sent_is_a_warning(tmp_path: Path) -> None:
    """``svyaz invite send`` renders texts.invite_* long after start: ``svyaz check`` says
    what would fail then (a warning: the bot runs without them)."""
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "_bot.yaml", dedent("""\
        vars: {salon: Ромашка}
        texts:
          invite_sms: "{{ nmae }}, пишите {{ salon }}: {{ links }}"
          invite_subject: "{{ salon"
        """))
    flows, problems = loader.check(tmp_path, lang="en")
    assert flows is not None
    found = [(Path(p.file).name, p.line, p.severity, p.message) for p in problems]
    assert ("_bot.yaml", 3, "warning", "texts.invite_sms: an invitation's text has no "
            "variable 'nmae'; did you mean 'name'?; there are: links, max, name, salon, vk, "
            "web") in found
    assert any(line == 4 and "texts.invite_subject: the invitation's template is wrong"
               in message for _, line, _, message in found)
    assert len(found) == 2
    _, clean = loader.check(Path(__file__).parents[2] / "flows_examples", lang="en")
    assert not [p for p in clean if "invitation" in p.message]
