"""connectors.sms.text: part counts at every boundary, ``fit`` as a property, ``plain``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.sms.text import (
    GSM_BASIC,
    GSM_EXTENSION,
    MARK_GSM,
    MARK_UCS2,
    WORD_BACKOFF,
    fit,
    is_gsm,
    mark_for,
    parts,
    plain,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("я" * 70, 1),
        ("я" * 71, 2),
        ("я" * 134, 2),
        ("я" * 135, 3),
        ("a" * 69 + "я", 1),  # one Cyrillic letter makes the whole text UCS-2
        ("a" * 70 + "я", 2),
        ("€" * 80, 1),  # an extension character takes two septets
        ("€" * 81, 2),
        ("a" * 152 + "€" + "a" * 10, 2),  # 152 + 2 septets: the escape pair moves to part 2
        ("a" * 152 + "€" + "a" * 151, 2),  # part 2: the pair and 151 septets, 153
        ("a" * 152 + "€" + "a" * 152, 3),
        ("😀" * 35, 1),  # outside the BMP: two UCS-2 units each
        ("😀" * 36, 2),
        ("я" * 66 + "😀" + "я" * 70, 3),  # the pair would straddle 67: it moves on
    ],
)
def test_parts(text: str, expected: int) -> None:
    assert parts(text) == expected


def test_the_gsm_alphabet_is_gsm_and_cyrillic_is_not() -> None:
    assert is_gsm("".join(GSM_BASIC) + "".join(GSM_EXTENSION))
    assert not is_gsm("Привет")
    assert not is_gsm("`")  # a backtick is not in GSM-7
    assert (mark_for("hello"), mark_for("привет")) == (MARK_GSM, MARK_UCS2)


def test_fit_cuts_at_a_space_and_marks_the_cut() -> None:
    text = "Напоминаем: завтра в 15:30 вы записаны на стрижку к мастеру Ольге. Ждём вас!"
    assert parts(text[:69] + "…") == 1  # the room ends inside "Ждём": the cut moves back
    cut = fit(text, 1)
    assert cut == "Напоминаем: завтра в 15:30 вы записаны на стрижку к мастеру Ольге.…"
    assert parts(cut) == 1


def test_fit_keeps_a_latin_text_in_gsm() -> None:
    cut = fit("word " * 100, 1)
    assert cut.endswith("...")
    assert is_gsm(cut)
    assert len(cut) > 150  # the cut did not halve its room by turning UCS-2


def test_fit_refuses_zero_parts() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        fit("x", 0)


_ALPHABETS = [
    sorted(GSM_BASIC | GSM_EXTENSION),  # stays GSM-7
    sorted(GSM_BASIC) + list("яЖё😀…"),  # turns UCS-2
    list("ab€ {}") + ["😀"],  # pairs of both kinds near every boundary
]
# Lengths drawn evenly up to 700, so texts of several parts are as common as short ones.
texts = st.sampled_from(_ALPHABETS).flatmap(
    lambda alphabet: st.integers(0, 700).flatmap(
        lambda n: st.text(alphabet=st.sampled_from(alphabet), min_size=n, max_size=n)
    )
)


@settings(max_examples=300, deadline=None)
@given(text=texts, max_parts=st.integers(min_value=1, max_value=4))
def test_fit_always_fits_and_is_a_marked_prefix(text: str, max_parts: int) -> None:
    result = fit(text, max_parts)
    assert parts(result) <= max_parts
    if parts(text) <= max_parts:
        assert result == text
    else:
        mark = mark_for(text)
        assert result.endswith(mark)
        assert text.startswith(result[: -len(mark)])


def _room(text: str, max_parts: int) -> int:
    """The longest prefix length whose text (trailing spaces dropped) and mark still fit."""
    mark, low, high = mark_for(text), 0, len(text) + 1
    while high - low > 1:  # fits at low, not at high; fitting is monotone in the length
        middle = (low + high) // 2
        low, high = (middle, high) if parts(text[:middle].rstrip() + mark) <= max_parts else (
            low, middle)
    return low


@settings(max_examples=200, deadline=None)
@given(text=texts, max_parts=st.integers(min_value=1, max_value=4))
def test_fit_uses_its_room(text: str, max_parts: int) -> None:
    """A cut gives up at most a word's back-off of the room (whitespace not counted)."""
    result = fit(text, max_parts)
    if result != text:
        kept = len(result) - len(mark_for(text))
        lost = text[kept:_room(text, max_parts)]
        assert len("".join(lost.split())) <= WORD_BACKOFF


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("**Запись** подтверждена", "Запись подтверждена"),
        ("__важно__ и *курсив* и _тоже_", "важно и курсив и тоже"),
        ("код `A-12` и ~~старое~~", "код A-12 и старое"),
        ("[Сайт](https://example.ru/a?b=1)", "Сайт (https://example.ru/a?b=1)"),
        ("[https://x.ru](https://x.ru)", "https://x.ru"),
        ('<a href="https://x.ru">тут</a>', "тут (https://x.ru)"),
        ("<b>Да</b><br>Нет<br/>Может", "Да\nНет\nМожет"),
        ("# Заголовок\nтекст", "Заголовок\nтекст"),
        ("a &amp; b &lt;3", "a & b <3"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
        ("один\n\n\n\nдва  ", "один\n\nдва"),
    ],
)
def test_plain(raw: str, expected: str) -> None:
    assert plain(raw) == expected
