"""A template mistake reads as the owner's words, not Jinja's (flows.templatewords)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows import loader


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ('say: "Привет, {{ name }"', "скобки не сходятся: вставка пишется двумя фигурными "
                                     "скобками с каждой стороны, {{ имя }}"),
        ('say: "{{ name | uper }}"', "нет фильтра 'uper'; может быть, 'upper'?; русские "
                                     "фильтры: date_full_ru"),
        ('say: "{% if name %}да"', "блок '{% if %}' не закрыт; добавьте '{% endif %}' в конце"),
        ('say: "{{ }}"', "пустая вставка {{ }}: напишите внутри имя переменной"),
        ('say: "{{ name.__class__ }}"', "'__class__' недоступно в шаблонах"),
        ('say: "{% frobnicate %}"', "неизвестный блок '{% frobnicate %}'"),
    ],
)
def test_template_mistakes_in_russian(tmp_path: Path, source: str, words: str) -> None:
    (tmp_path / "a.yaml").write_text(f"vars: {{name: x}}\nsteps:\n  a:\n    {source}\n",
                                     encoding="utf-8")
    _, problems = loader.check(tmp_path)
    (problem,) = problems
    assert problem.message.startswith("шаг 'a': ошибка в шаблоне: ")
    assert words in problem.message
