"""flows.inputs.phone_e164: the one home of phone parsing (the engine's input and storage)."""

from __future__ import annotations

import pytest

from flows.inputs import Invalid, Parsed, parse_phone, phone_e164


@pytest.mark.parametrize("text", ["8 (999) 123-45-67", "+7 999 123 45 67", "9991234567"])
def test_a_russian_number_in_any_writing_is_e164(text: str) -> None:
    assert phone_e164(text) == "+79991234567"
    assert parse_phone(text) == Parsed("+79991234567")


def test_possible_is_looser_than_valid() -> None:
    # right length for Russia, but no such code in the numbering plan
    assert phone_e164("+7 000 123-45-67") is None
    assert phone_e164("+7 000 123-45-67", check="possible") == "+70001234567"


@pytest.mark.parametrize("text", ["", "abc", "+7 999", "++++"])
def test_not_a_number_is_none(text: str) -> None:
    assert phone_e164(text) is None
    assert phone_e164(text, check="possible") is None
    assert isinstance(parse_phone(text), Invalid)
