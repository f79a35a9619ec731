"""Phone numbers are read in two places with two rules, which must stay as they are when the
reading gets one home: a profile (``storage.profile.normalise_phone``: the API, the phone-match
effect, stored fields) takes any *possible* number, a flow's ``input: phone``
(``flows.inputs.parse_phone``) only a *valid* one of 7 to 100 characters."""

from __future__ import annotations

import pytest

from flows.inputs import Invalid, Parsed, parse_phone
from storage.errors import InvalidValue
from storage.profile import normalise_phone


@pytest.mark.parametrize(("text", "e164"), [
    ("+7 999 123-45-67", "+79991234567"),
    ("8 (999) 123 45 67", "+79991234567"),
    ("+44 20 7946 0958", "+442079460958"),
])
def test_a_valid_number_reads_the_same_in_both(text: str, e164: str) -> None:
    assert normalise_phone(text) == e164
    assert parse_phone(text) == Parsed(e164)


@pytest.mark.parametrize(("text", "e164"), [
    ("+7 000 123 45 67", "+70001234567"),  # no such Russian range
    ("+1 555 0100 123", "+15550100123"),  # the right length, not a real number
])
def test_a_possible_but_invalid_number_is_a_profiles_not_an_inputs(text: str, e164: str) -> None:
    assert normalise_phone(text) == e164
    assert isinstance(parse_phone(text), Invalid)


@pytest.mark.parametrize("text", ["12345", "телефон", "+7 999"])
def test_an_impossible_number_is_refused_by_both(text: str) -> None:
    with pytest.raises(InvalidValue):
        normalise_phone(text)
    assert isinstance(parse_phone(text), Invalid)
