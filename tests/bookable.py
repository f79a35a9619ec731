"""A day the example salon books on, for tests that book through the real clock.

``flows_examples/_bot.yaml`` declares working days and holidays (``working:``): a day picked
as "30 days from now" may be a Sunday or 1 January, which the booking flow refuses. Tests
that go through the runtime (its clock is the real one) ask here instead.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from flows import loader

EXAMPLES = Path(__file__).resolve().parents[1] / "flows_examples"


def bookable_day(ahead: int = 30) -> str:
    """The first working day of the example salon at least ``ahead`` days from today, as a
    customer types it ("25.12")."""
    first = date.today() + timedelta(days=ahead)
    working = loader.load(EXAMPLES).working
    day = working.next_working_day(first) if working else first
    assert day is not None
    return day.strftime("%d.%m")
