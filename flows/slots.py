"""Lists of times tied to a day (``for_day``): which of them can still be offered.

Owns the rule "a slot list hides the times already past today and those outside working
hours" and the reading of a slot's time from its button ("10:00", "10:00–14:00", "в 10:00"
— the first time written). Options without a time are kept. Pure: ``now`` is passed in.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import lru_cache

from flows.hours import WorkingHours
from flows.inputs import Option
from flows.types import JSON

_TIME_RE = re.compile(r"(?<!\d)([01]?\d|2[0-3])[:.]([0-5]\d)(?!\d)")


def as_date(value: JSON) -> date | None:
    """"2026-01-12" (or the date of "2026-01-12T10:00") as a date; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def slot_time(option: Option) -> time | None:
    """The first time written on the button (or in its id)."""
    for source in (option.id, option.text):
        match = _TIME_RE.search(source)
        if match:
            return time(int(match[1]), int(match[2]))
    return None


def open_times(
    options: tuple[Option, ...], day: date | None, now: datetime, working: WorkingHours | None
) -> tuple[Option, ...]:
    """``options`` without the times already past (when ``day`` is today, by ``now``'s wall
    clock) and those outside ``working`` hours; all of them when ``day`` is unknown."""
    if day is None:
        return options
    kept: list[Option] = []
    for option in options:
        at = slot_time(option)
        if at is not None and not _offered(day, at, now, working):
            continue
        kept.append(option)
    return tuple(kept)


def _offered(day: date, at: time, now: datetime, working: WorkingHours | None) -> bool:
    if day < now.date() or (day == now.date() and at <= now.time().replace(tzinfo=None)):
        return False
    return working is None or working.is_open_at(datetime.combine(day, at))


def time_check_clock(day: date | None, now: datetime) -> str:
    """What ``now`` means in a time question's ``check``: the current "HH:MM" when the
    question's day is today (or unknown); "" on a later day (any time is later than it);
    "24:00" on a past day (no time is)."""
    today = now.date()
    if day is None or day == today:
        return now.strftime("%H:%M")
    return "" if day > today else "24:00"
