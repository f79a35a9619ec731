"""Template escape attempts: each must fail safely (a TemplateProblem at load or a
TemplateRenderError at render), never run code, leak internals or hang.

Customer text is a value in the context, never template source: it renders literally.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.templates import TemplateProblem, TemplateRenderError, compile_expr, compile_text
from flows.types import JSON

CONTEXT: dict[str, JSON] = {
    "x": "текст",
    "n": 3,
    "items": [1, 2],
    "order": {"id": 7},
    "key": "__class__",
}

# Refused when the flow loads: private attributes, ``self``, template loading tags.
REFUSED_AT_LOAD = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ x.__class__ }}",
    "{{ x.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ x['__class__'] }}",
    "{{ items.__len__() }}",
    "{{ self }}",
    "{{ self.__init__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ __builtins__ }}",
    "{{ _ }}",
    "{{ (x|attr('__class__')).__mro__ }}",
    "{{ __import__('os') | string }}",
    "{% set self = 1 %}{{ self }}",
    "{% include 'x' %}",
    "{% import 'x' as y %}",
    "{% from 'x' import y %}",
    "{% extends 'base' %}",
    "{% for c in ''.__class__.__mro__ %}{{ c }}{% endfor %}",
]

# Refused by the sandbox (or a missing global) when rendered.
REFUSED_AT_RENDER = [
    "{{ x|attr('__class__') }}",
    "{{ '{0.__class__}'.format(x) }}",
    "{{ '{0.__class__.__mro__}'.format(x) }}",
    "{{ '{0.__init__.__globals__}'.format(x) }}",
    "{{ '{x.__class__}'.format(x=items) }}",
    "{{ '{0.__class__}'.format_map(order) }}",
    "{{ x.format }}{{ '{0.__class__}'.format(x) }}",
    "{{ items|map(attribute='__class__')|list }}",
    "{{ items|selectattr('__class__')|list }}",
    "{{ items|sort(attribute='__class__') }}",
    "{{ range(10**9)|list }}",
    "{{ range(10**9)|length }}",
    "{{ 10**(10**10) }}",
    "{{ x|attr(key) }}",
    "{{ items|map(attribute=key)|list }}",
    "{{ 2**100000 }}",
    "{{ (10**500)**500 }}",
    "{{ 'a' * 10**9 }}",
    "{{ items * 10**8 }}",
    "{{ cycler }}",
    "{{ joiner() }}",
    "{{ lipsum() }}",
    "{{ namespace(a=1) }}",
    "{{ config }}",
    "{{ request }}",
    "{{ os }}",
    "{{ open('/etc/passwd').read() }}",
    "{{ items.append(3) }}",
    "{{ items.pop() }}",
    "{{ order.update({'id': 1}) }}",
    "{{ order.clear() }}",
    "{{ order.setdefault('a', 1) }}",
    "{{ x.mro }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
]


@pytest.mark.parametrize("source", REFUSED_AT_LOAD)
def test_refused_at_load(source: str) -> None:
    with pytest.raises(TemplateProblem) as info:
        compile_text(source)
    assert info.value.lineno == 1


@pytest.mark.parametrize("source", REFUSED_AT_RENDER)
def test_refused_at_render(source: str) -> None:
    template = compile_text(source)
    started = time.perf_counter()
    with pytest.raises(TemplateRenderError):
        template.render(CONTEXT)
    assert time.perf_counter() - started < 2.0


def test_mutation_attempts_leave_the_context_alone() -> None:
    items: list[JSON] = [1, 2]
    order: dict[str, JSON] = {"id": 7}
    for source in ("{{ items.append(3) }}", "{{ order.update({'id': 1}) }}"):
        with pytest.raises(TemplateRenderError):
            compile_text(source).render({"items": items, "order": order})
    assert items == [1, 2]
    assert order == {"id": 7}


@pytest.mark.parametrize("source", ["''.__class__", "x.__class__.__mro__", "self", "_secret"])
def test_expression_escapes_refused_at_load(source: str) -> None:
    with pytest.raises(TemplateProblem):
        compile_expr(source)


@pytest.mark.parametrize(
    "source", ["x|attr('__class__')", "'{0.__class__}'.format(x)", "range(10**9)|list", "9**9999"]
)
def test_expression_escapes_refused_at_render(source: str) -> None:
    with pytest.raises(TemplateRenderError):
        compile_expr(source).evaluate(CONTEXT)


CUSTOMER_TEXTS = [
    "{{ 7*7 }}",
    "{{ ''.__class__.__mro__ }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ self }}",
    "{# comment #}",
    "{% raw %}{{ 1 }}{% endraw %}",
    "${7*7} #{7*7} <%= 7*7 %>",
    "{0.__class__}",
    "%s%s%s%n",
    "}}{{",
]


@pytest.mark.parametrize("text", CUSTOMER_TEXTS)
def test_customer_text_renders_literally(text: str) -> None:
    template = compile_text("Вы написали: {{ answer }}")
    assert template.render({"answer": text}) == f"Вы написали: {text}"
    assert compile_text("{{ answer | upper }}").render({"answer": text}) == text.upper()


def test_customer_text_in_a_structure_renders_literally() -> None:
    rendered = compile_text("{{ order.comment }}/{{ items[0] }}").render(
        {"order": {"comment": "{{ 7*7 }}"}, "items": ["{% if 1 %}x{% endif %}"]}
    )
    assert rendered == "{{ 7*7 }}/{% if 1 %}x{% endif %}"


def test_customer_text_through_format_is_not_evaluated() -> None:
    rendered = compile_text("{{ 'Ответ: %s' % answer }}").render({"answer": "{{ 7*7 }}"})
    assert rendered == "Ответ: {{ 7*7 }}"
    rendered = compile_text("{{ 'Ответ: {}'.format(answer) }}").render({"answer": "{0.__class__}"})
    assert rendered == "Ответ: {0.__class__}"


def test_expression_with_customer_value_is_not_evaluated() -> None:
    assert compile_expr("value").evaluate({"value": "{{ 7*7 }}"}) == "{{ 7*7 }}"
    assert compile_expr("value == '49'").evaluate({"value": "{{ 7*7 }}"}) is False


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_any_customer_text_renders_literally(text: str) -> None:
    assert compile_text("{{ answer }}").render({"answer": text}) == text
    assert compile_expr("answer").evaluate({"answer": text}) == text
