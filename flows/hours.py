"""The business's working days and hours, declared once in ``_bot.yaml`` (``working:``).

Owns ``WorkingHours``, a small immutable value: which weekdays are working days, the hours
of a working day and the holidays (a date, or a day and month every year), with the two
questions everyone asks of it — "are we open at this moment?" and "when do we open next?".
Flows use it (``days: working``, slot lists tied to a day); the operator desk's honest
waiting may ask the same value. It also reads the owner's words for it (``пн-пт``,
``10:00-20:00``, ``31.12``).

Times are local wall-clock times of the business (whoever asks converts to its time zone).
Pure: no clock, no I/O, imports nothing of ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

WEEKDAYS: tuple[tuple[str, str], ...] = (
    ("пн", "mon"), ("вт", "tue"), ("ср", "wed"), ("чт", "thu"),
    ("пт", "fri"), ("сб", "sat"), ("вс", "sun"),
)  # fmt: skip
_DAY_NAMES = {name: i for i, names in enumerate(WEEKDAYS) for name in names}
_NAMES = "|".join(_DAY_NAMES)
DAYS_PATTERN = rf"^\s*({_NAMES})\s*(?:[-–—]\s*({_NAMES})\s*)?$"
HOURS_PATTERN = r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*[-–—]\s*([01]?\d|2[0-4]):([0-5]\d)\s*$"
HOLIDAY_PATTERN = r"^\s*(?:\d{4}-\d{2}-\d{2}|\d{1,2}\.\d{1,2})\s*$"
_LOOK_AHEAD = 400  # days searched for the next opening (a year of holidays and a bit)


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """Working weekdays (Monday 0), the opening hours of a working day and the holidays.

    ``closes`` None: open until midnight. ``yearly``: (month, day) closed every year.
    """

    days: frozenset[int] = frozenset(range(7))
    opens: time = time(0, 0)
    closes: time | None = None
    holidays: frozenset[date] = frozenset()
    yearly: frozenset[tuple[int, int]] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        return (
            day.weekday() in self.days
            and day not in self.holidays
            and (day.month, day.day) not in self.yearly
        )

    def is_open_at(self, moment: datetime) -> bool:
        """True when ``moment`` (local wall-clock time) falls within working hours."""
        if not self.is_working_day(moment.date()):
            return False
        clock = moment.time().replace(second=0, microsecond=0, tzinfo=None)
        return self.opens <= clock and (self.closes is None or clock < self.closes)

    def next_working_day(self, day: date) -> date | None:
        """``day`` itself or the first working day after it (None: none within a year)."""
        for offset in range(_LOOK_AHEAD):
            candidate = day + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        return None

    def next_opening(self, moment: datetime) -> datetime | None:
        """``moment`` when open then, else the next moment the business opens (same tzinfo);
        None when it never opens within a year."""
        if self.is_open_at(moment):
            return moment
        today = moment.date()
        clock = moment.time().replace(tzinfo=None)
        start = today if clock < self.opens else today + timedelta(days=1)
        day = self.next_working_day(start)
        if day is None:
            return None
        return datetime.combine(day, self.opens, tzinfo=moment.tzinfo)

    def describe(self) -> str:
        """The hours as an owner writes them: "10:00–20:00"."""
        closes = "24:00" if self.closes is None else self.closes.strftime("%H:%M")
        return f"{self.opens.strftime('%H:%M')}–{closes}"


def read(
    days: Iterable[str] = (), hours: str | None = None, holidays: Iterable[str] = ()
) -> WorkingHours:
    """The owner's words (already checked against the patterns above) as a value:
    ``days`` like ``[пн-пт, сб]`` (none: every day), ``hours`` like ``10:00-20:00`` (none:
    the whole day), ``holidays`` like ``[2026-01-01, 08.03]``."""
    weekdays = frozenset(d for item in days for d in _day_range(item)) or frozenset(range(7))
    opens, closes = time(0, 0), None
    if hours:
        match = re.fullmatch(HOURS_PATTERN, hours)
        if match is None:
            raise ValueError(hours)
        opens = time(int(match[1]), int(match[2]))
        closes = None if match[3] == "24" else time(int(match[3]), int(match[4]))
    dated: set[date] = set()
    yearly: set[tuple[int, int]] = set()
    for item in holidays:
        text = item.strip()
        if "-" in text:
            dated.add(date.fromisoformat(text))
        else:
            day, month = (int(p) for p in text.split("."))
            date(2024, month, day)  # (a leap year: 29.02 is a day; 31.02 raises ValueError)
            yearly.add((month, day))
    return WorkingHours(days=weekdays, opens=opens, closes=closes,
                        holidays=frozenset(dated), yearly=frozenset(yearly))


def _day_range(item: str) -> list[int]:
    match = re.fullmatch(DAYS_PATTERN, item.casefold())
    if match is None:
        raise ValueError(item)
    first = _DAY_NAMES[match[1]]
    last = _DAY_NAMES[match[2]] if match[2] else first
    return [(first + i) % 7 for i in range((last - first) % 7 + 1)]
