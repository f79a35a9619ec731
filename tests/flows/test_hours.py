"""flows/hours.py: working days and hours as a value ("is open at", "next opening")."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from flows import hours

MSK = ZoneInfo("Europe/Moscow")
SALON = hours.read(["пн-пт", "сб"], "10:00-20:00", ["2026-01-01", "08.03"])


def test_the_owner_words_read_as_a_value() -> None:
    assert SALON.days == frozenset(range(6))
    assert (SALON.opens, SALON.closes) == (time(10, 0), time(20, 0))
    assert SALON.holidays == {date(2026, 1, 1)}
    assert SALON.yearly == {(3, 8)}
    assert hours.read(["пт-пн"]).days == {4, 5, 6, 0}  # a range may wrap around the week
    assert hours.read().is_open_at(datetime(2026, 1, 11, 3, 0))  # nothing declared: open
    assert hours.read(hours="09:00-24:00").closes is None
    assert SALON.describe() == "10:00–20:00"


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (datetime(2026, 1, 12, 10, 0), True),  # Monday, opening minute
        (datetime(2026, 1, 12, 19, 59), True),
        (datetime(2026, 1, 12, 20, 0), False),  # closing minute is closed
        (datetime(2026, 1, 12, 9, 59), False),
        (datetime(2026, 1, 11, 12, 0), False),  # Sunday
        (datetime(2026, 1, 1, 12, 0), False),  # a dated holiday
        (datetime(2027, 3, 8, 12, 0), False),  # a yearly holiday
    ],
)
def test_is_open_at(moment: datetime, open_: bool) -> None:
    assert SALON.is_open_at(moment) is open_
    assert SALON.is_open_at(moment.replace(tzinfo=MSK)) is open_


@pytest.mark.parametrize(
    ("moment", "opening"),
    [
        (datetime(2026, 1, 12, 12, 0, tzinfo=MSK), datetime(2026, 1, 12, 12, 0, tzinfo=MSK)),
        (datetime(2026, 1, 12, 8, 0, tzinfo=MSK), datetime(2026, 1, 12, 10, 0, tzinfo=MSK)),
        (datetime(2026, 1, 12, 21, 0, tzinfo=MSK), datetime(2026, 1, 13, 10, 0, tzinfo=MSK)),
        (datetime(2026, 1, 10, 21, 0, tzinfo=MSK), datetime(2026, 1, 12, 10, 0, tzinfo=MSK)),
        (datetime(2025, 12, 31, 21, 0, tzinfo=MSK), datetime(2026, 1, 2, 10, 0, tzinfo=MSK)),
    ],
)
def test_next_opening(moment: datetime, opening: datetime) -> None:
    assert SALON.next_opening(moment) == opening


def test_never_open_has_no_next_opening() -> None:
    closed = hours.WorkingHours(days=frozenset())
    assert closed.next_opening(datetime(2026, 1, 12, 12, 0)) is None
    assert closed.next_working_day(date(2026, 1, 12)) is None


@pytest.mark.parametrize("bad", ["пн-вс-ср", "понедельник", "monday"])
def test_unknown_day_words_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        hours.read([bad])


@pytest.mark.parametrize("bad", ["31.02", "2026-02-30", "00.01"])
def test_holidays_that_do_not_exist_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="day"):
        hours.read(holidays=[bad])
    assert hours.read(holidays=["29.02"]).yearly == {(2, 29)}
