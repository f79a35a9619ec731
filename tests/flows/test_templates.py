"""flows.templates: compiling, rendering, expressions, errors and the Russian filters."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from flows import ru
from flows.errors import SvyazError
from flows.templates import (
    ENV,
    Expression,
    TemplateProblem,
    TemplateRenderError,
    TextTemplate,
    compile_expr,
    compile_text,
)
from flows.types import JSON

NB = "\u00a0"


def render(source: str, **context: JSON) -> str:
    return compile_text(source).render(context)


# --------------------------------------------------------------------------- text


def test_plain_text_and_variables() -> None:
    assert render("Здравствуйте!") == "Здравствуйте!"
    assert render("Здравствуйте, {{ name }}!", name="Анна") == "Здравствуйте, Анна!"
    assert render("{{ a }} + {{ b }} = {{ a + b }}", a=2, b=3) == "2 + 3 = 5"


def test_no_autoescape() -> None:
    assert render("{{ x }}", x="<b>Tom & Jerry</b>") == "<b>Tom & Jerry</b>"


def test_none_prints_as_nothing() -> None:
    assert render("[{{ x }}]", x=None) == "[]"


def test_control_flow_and_defaults() -> None:
    source = "{% if n > 1 %}много{% else %}мало{% endif %}, {{ missing | default('нет') }}"
    assert render(source, n=2) == "много, нет"
    assert render("{% for s in slots %}{{ s }};{% endfor %}", slots=["10:00", "11:00"]) == (
        "10:00;11:00;"
    )
    assert render("{{ 'да' if flag is defined else 'нет' }}") == "нет"


def test_dict_keys_win_over_dict_methods() -> None:
    assert render("{{ order.items|join(',') }}", order={"items": ["a", "b"]}) == "a,b"
    assert render("{{ order.get('id') }}", order={"id": 5}) == "5"


def test_dict_and_list_access() -> None:
    assert (
        render("{{ order.items[1].name }}", order={"items": [{"name": "a"}, {"name": "b"}]}) == "b"
    )
    assert render("{{ order['id'] }}", order={"id": 7}) == "7"


def test_compiled_once_and_reusable() -> None:
    template = compile_text("№{{ n }}")
    assert isinstance(template, TextTemplate)
    assert compile_text("№{{ n }}") is template
    assert [template.render({"n": i}) for i in range(3)] == ["№0", "№1", "№2"]
    assert template.names == frozenset({"n"})


def test_names_lists_undeclared_variables_only() -> None:
    template = compile_text("{% set x = 1 %}{{ x }}{{ y }}{% for i in items %}{{ i }}{% endfor %}")
    assert template.names == frozenset({"y", "items"})


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("source", "lineno", "fragment"),
    [
        ("{{ name", 1, "end of print statement"),
        ("строка\n{{ name }\nещё", 2, "unexpected '}'"),
        ("{% if x %}без конца", 1, "endif"),
        ("a\nb\n{% for %}", 3, ""),
        ("{{ x | no_such_filter }}", 1, "no_such_filter"),
        ("{{ x.__class__ }}", 1, "__class__"),
        ("{% include 'other.txt' %}", 1, "include"),
    ],
)
def test_compile_problems_have_line_numbers(source: str, lineno: int, fragment: str) -> None:
    with pytest.raises(TemplateProblem) as info:
        compile_text(source)
    assert isinstance(info.value, SvyazError)
    assert info.value.lineno == lineno
    assert fragment in info.value.message
    assert str(info.value).startswith(f"line {lineno}: ")


def test_unknown_filter_suggests_the_right_one() -> None:
    with pytest.raises(TemplateProblem) as info:
        compile_text("Ждём вас\n{{ day | date_rus }}")
    assert info.value.lineno == 2
    assert "did you mean 'date_ru'?" in info.value.message
    assert "money" in info.value.message
    with pytest.raises(TemplateProblem, match="did you mean 'defined'"):
        compile_expr("x is definde")


def test_undefined_variable_is_a_render_error() -> None:
    template = compile_text("Привет\n\n{{ name }}")
    with pytest.raises(TemplateRenderError) as info:
        template.render({})
    assert "'name' is undefined" in info.value.message
    assert info.value.lineno == 3
    assert isinstance(info.value, SvyazError)


def test_undefined_attribute_is_a_render_error() -> None:
    with pytest.raises(TemplateRenderError, match="no attribute 'city'"):
        render("{{ address.city }}", address={"street": "Ленина"})


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ 'a' + 1 }}", "TypeError"),
        ("{{ items[5] }}", "no element 5"),
        ("{{ bad | date_ru }}", "filter 'date_ru'"),
        ("{{ bad | money }}", "filter 'money'"),
        ("{{ bad | plural('день', 'дня', 'дней') }}", "filter 'plural'"),
    ],
)
def test_runtime_failures_are_render_errors(source: str, fragment: str) -> None:
    with pytest.raises(TemplateRenderError) as info:
        render(source, items=[1], bad="не дата")
    assert fragment in info.value.message or fragment in str(info.value.__cause__)


def test_render_error_chains_the_jinja_error() -> None:
    with pytest.raises(TemplateRenderError) as info:
        render("{{ nope }}")
    assert info.value.__cause__ is not None


# --------------------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    ("source", "context", "expected"),
    [
        ("value >= today", {"value": "2026-12-25", "today": "2026-12-23"}, True),
        ("{{ value >= today }}", {"value": "2026-12-20", "today": "2026-12-23"}, False),
        ("  {{ n * 2 }}  ", {"n": 21}, 42),
        ("n > 3 and n < 10", {"n": 5}, True),
        ("name | upper", {"name": "анна"}, "АННА"),
        ("[a, b]", {"a": 1, "b": "x"}, [1, "x"]),
        ("(a, b)", {"a": 1, "b": 2}, [1, 2]),
        ("{'k': a}", {"a": None}, {"k": None}),
        ("price | money", {"price": 1200}, f"1{NB}200{NB}₽"),
        ("x is defined", {}, False),
        ("self_service", {"self_service": True}, True),
        ("value in ['да', 'нет']", {"value": "да"}, True),
    ],
)
def test_expressions(source: str, context: dict[str, JSON], expected: JSON) -> None:
    expression = compile_expr(source)
    assert isinstance(expression, Expression)
    assert expression.evaluate(context) == expected


def test_expression_context_keys_may_be_any_string() -> None:
    assert compile_expr("value").evaluate({"value": 1, "self": 2, "result": 3}) == 1


def test_expression_names() -> None:
    assert compile_expr("value >= today and x.y").names == frozenset({"value", "today", "x"})


@pytest.mark.parametrize("source", ["", "   ", "{{ }}", "a b", "value >=", "{{ a }} {{ b }}", "x)"])
def test_bad_expressions_are_problems(source: str) -> None:
    with pytest.raises(TemplateProblem):
        compile_expr(source)


def test_expression_undefined_is_a_render_error() -> None:
    with pytest.raises(TemplateRenderError, match="'today' is undefined"):
        compile_expr("value >= today").evaluate({"value": "2026-12-25"})
    with pytest.raises(TemplateRenderError, match="'missing' is undefined"):
        compile_expr("missing").evaluate({})


def test_expression_result_must_be_a_value() -> None:
    with pytest.raises(TemplateRenderError, match="not a value"):
        compile_expr("range(3)").evaluate({})


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-25", "25 декабря"),
        ("2026-01-01", "1 января"),
        ("2026-05-09T10:00", "9 мая"),
        (date(2026, 3, 8), "8 марта"),
        (datetime(2026, 2, 14, 9, 0), "14 февраля"),
    ],
)
def test_date_ru(value: object, expected: str) -> None:
    assert compile_text("{{ d | date_ru }}").render({"d": value}) == expected  # type: ignore[dict-item]


def test_date_with_year_and_full_and_weekday() -> None:
    assert render("{{ d | date_ru(year=True) }}", d="2026-12-25") == "25 декабря 2026"
    assert render("{{ d | date_full_ru }}", d="2026-12-25") == "25 декабря, пятница"
    assert render("{{ d | weekday_ru }}", d="2026-12-23") == "среда"
    assert render("в {{ d | weekday_ru('acc') }}", d="2026-12-23") == "в среду"


def test_all_month_and_weekday_names_are_distinct() -> None:
    days = [ru.format_date(date(2026, m, 1)) for m in range(1, 13)]
    assert len(set(days)) == 12
    assert days[11] == "1 декабря"
    weekdays = [ru.format_weekday(date(2026, 12, d)) for d in range(21, 28)]
    assert weekdays[0] == "понедельник"
    assert weekdays[-1] == "воскресенье"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("15:30", "15:30"), ("9:05", "09:05"), ("2026-12-25T15:30", "15:30"), (time(8, 0), "08:00")],
)
def test_time_ru(value: object, expected: str) -> None:
    assert compile_text("{{ t | time_ru }}").render({"t": value}) == expected  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "value", ["2026-12-25T15:30", "2026-12-25 15:30", datetime(2026, 12, 25, 15, 30)]
)
def test_datetime_ru(value: object) -> None:
    rendered = compile_text("{{ v | datetime_ru }}").render({"v": value})  # type: ignore[dict-item]
    assert rendered == "25 декабря в 15:30"


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0 дней"), (1, "1 день"), (2, "2 дня"), (3, "3 дня"), (4, "4 дня"), (5, "5 дней"),
        (11, "11 дней"), (12, "12 дней"), (14, "14 дней"), (21, "21 день"), (22, "22 дня"),
        (25, "25 дней"), (101, "101 день"), (111, "111 дней"), (1001, f"1{NB}001 день"),
        (1.5, "1,5 дня"), (-1, "-1 день"), ("3", "3 дня"),
    ],
)  # fmt: skip
def test_plural(n: JSON, expected: str) -> None:
    assert render("{{ n | plural('день', 'дня', 'дней') }}", n=n) == expected


def test_plural_word_only() -> None:
    assert render("{{ n | plural('раз', 'раза', 'раз', with_number=False) }}", n=3) == "раза"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1200, f"1{NB}200{NB}₽"),
        (1200.5, f"1{NB}200,50{NB}₽"),
        (1200.0, f"1{NB}200{NB}₽"),
        (0, f"0{NB}₽"),
        (999, f"999{NB}₽"),
        (1234567.891, f"1{NB}234{NB}567,89{NB}₽"),
        (-50, f"-50{NB}₽"),
        ("1500", f"1{NB}500{NB}₽"),
        (0.1 + 0.2, f"0,30{NB}₽"),
    ],
)
def test_money(value: JSON, expected: str) -> None:
    assert render("{{ v | money }}", v=value) == expected


def test_money_other_currency_and_number() -> None:
    assert render("{{ v | money('$') }}", v=5) == f"5{NB}$"
    assert render("{{ v | number }}", v=1234567) == f"1{NB}234{NB}567"


@pytest.mark.parametrize("value", [True, None, "abc", [1], {"a": 1}])
def test_money_rejects_non_numbers(value: JSON) -> None:
    with pytest.raises(TemplateRenderError, match="money"):
        render("{{ v | money }}", v=value)


def test_compiled_templates_hold_their_globals_in_one_dict() -> None:
    """Jinja's ``ChainMap`` of globals is iterated twice per render: flattened at compile,
    with the same names (the sandbox's ``range`` and ``dict``) and nothing else."""
    text = compile_text("{{ range(2) | list }}{{ dict(a=1) }}")
    expr = compile_expr("range(3) | list")
    for compiled in (text, expr):
        assert type(compiled._template.globals) is dict
        assert compiled._template.globals == dict(ENV.globals)
    assert text.render({}) == "[0, 1]{'a': 1}"
    assert expr.evaluate({}) == [0, 1, 2]
