"""flows.catalogue: every message in Russian and English, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from flows.catalogue import CATALOGUE
from flows.messages import LANGS, lang_of, msg
from flows.problems import Problem

ROOT = Path(__file__).resolve().parents[2]
USED = re.compile(r"""\bmsg\(\s*["']([a-z_]+\.[a-z_.]+|empty)["']""")


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def words(template: str) -> str:
    """The template without its placeholders and the flow keys in quotes."""
    return re.sub(r"\{[a-z_]*\}|'[^']*'", "", template)


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_message_exists_in_both_languages_with_the_same_holes(key: str) -> None:
    texts = CATALOGUE[key]
    assert set(texts) == set(LANGS), key
    assert placeholders(texts["ru"]) == placeholders(texts["en"]), key
    if re.search("[a-z]{3}", words(texts["en"])):  # words, not only values: translated
        assert re.search("[а-яё]{3}", words(texts["ru"])), key


def test_every_key_the_code_uses_is_in_the_catalogue() -> None:
    sources = [*ROOT.glob("flows/*.py"), *ROOT.glob("bots/*.py"), *ROOT.glob("connectors/**/*.py"),
               *ROOT.glob("storage/*.py")]
    used = {key for path in sources for key in USED.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 50
    assert sorted(used - set(CATALOGUE)) == []


def test_an_unknown_key_fails_at_once() -> None:
    with pytest.raises(KeyError):
        msg("no.such.message")


def test_a_problem_speaks_russian_unless_told() -> None:
    problem = Problem("a.yaml", 3, 5, msg("step.unreached", step="b"), "warning")
    assert str(problem) == ("a.yaml:3:5: предупреждение: до шага 'b' разговор никогда не "
                            "дойдёт: ни один шаг не ведёт к нему")
    assert str(problem.in_lang("en")) == ("a.yaml:3:5: warning: step 'b' is never reached: "
                                          "no step goes to it")


@pytest.mark.parametrize(("value", "lang"), [
    (None, "ru"), ("", "ru"), ("ru", "ru"), ("en", "en"), ("EN", "en"), ("en_US.UTF-8", "en"),
    ("de", "ru"),
])
def test_the_language_setting(value: str | None, lang: str) -> None:
    assert lang_of(value) == lang
