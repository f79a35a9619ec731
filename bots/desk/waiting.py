"""Honest waiting: what a customer waiting for a person is told, and when the bot takes over.

A hand-off nobody has taken is told once when to expect an answer — at once when the
business is closed now (its working hours are ``_bot.yaml``'s ``working:``, the flows' own
``flows.hours.WorkingHours``), else when nobody took it within ``answer_within`` — with a
button back to the bot (the global command ``menu``). After ``release_after`` the bot takes
over (``bots.desk.takeover``). The owner sets both in ``_desk.yaml`` (``bots.desk.canned``).
Pure: no clock, no I/O; the sweep passes the business's local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bots.texts import (
    DESK_BACK_LABEL,
    DESK_WAIT_BACK,
    DESK_WAIT_BUSY,
    DESK_WAIT_BUSY_TODAY,
    DESK_WAIT_CLOSED,
    DESK_WAIT_CLOSED_LONG,
)
from flows.hours import WorkingHours
from flows.ru import format_date, format_weekday
from flows.types import Button, Reply

Step = Literal["wait", "tell", "release"]
BACK = Button("cmd:menu", DESK_BACK_LABEL)  # the engine's global command: back to the bot


@dataclass(frozen=True, slots=True)
class Waiting:
    """Seconds an unclaimed hand-off waits before the customer is told when to expect an
    answer, and before the bot takes over again."""

    answer_within: float = 15 * 60.0
    release_after: float = 24 * 3600.0


def decide(since: float, now: datetime, *, working: WorkingHours | None,
           waiting: Waiting) -> Step:
    """What to do with a hand-off nobody has taken, waiting since ``since`` (epoch s):
    "tell" is done once per hand-off (the caller keeps the mark)."""
    waited = now.timestamp() - since
    if waited >= waiting.release_after:
        return "release"
    if working is not None and not working.is_open_at(now):
        return "tell"
    return "tell" if waited >= waiting.answer_within else "wait"


def expectation(since: float, now: datetime, *, working: WorkingHours | None,
                waiting: Waiting) -> Reply:
    """The customer's message: when to expect an answer, and the way back to the bot."""
    if working is not None and not working.is_open_at(now):
        opens = working.next_opening(now)
        head = (DESK_WAIT_CLOSED.format(when=opening(opens, now)) if opens is not None
                else DESK_WAIT_CLOSED_LONG)
    elif working is not None and working.closes is not None:
        head = DESK_WAIT_BUSY_TODAY.format(until=working.closes.strftime("%H:%M"))
    else:
        left = max(60.0, waiting.release_after - (now.timestamp() - since))
        head = DESK_WAIT_BUSY.format(within=span(left))
    return Reply(f"{head} {DESK_WAIT_BACK}", buttons=(BACK,))


def opening(opens: datetime, now: datetime) -> str:
    """«сегодня в 10:00», «завтра в 10:00», «в понедельник, 7 декабря, в 10:00»."""
    clock = opens.strftime("%H:%M")
    if opens.date() == now.date():
        return f"сегодня в {clock}"
    if opens.date() == now.date() + timedelta(days=1):
        return f"завтра в {clock}"
    return f"в {format_weekday(opens.date(), 'acc')}, {format_date(opens.date())}, в {clock}"


def span(seconds: float) -> str:
    """A time to wait in Russian: «40 мин», «3 ч», «2 дн»."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{max(1, minutes)} мин"
    if minutes < 48 * 60:
        return f"{-(-minutes // 60)} ч"
    return f"{-(-minutes // (24 * 60))} дн"
