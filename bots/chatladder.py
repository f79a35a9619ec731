"""``svyaz chat``'s pretend escalation ladder: what the bot would do with a critical reminder.

In the terminal there is one customer and no platform, so the messenger rung is this chat
and the SMS and e-mail rungs are printed, not sent. The rules are ``bots.ladder``'s: the
customer typing anything stops the climb; with no answer within ``within`` the next rung
goes (SMS and e-mail wait for 09:00 between 21:00 and 09:00 unless ``urgent``); ``until:
delivered`` ends at the first rung. Owners see the climb by moving the clock (``/time +2h``).
It must not send anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bots.ladder import rung_title
from connectors.registry import INSTALLED
from flows.climb import Climbs
from flows.messages import DEFAULT_LANG, Lang, Msg, msg
from flows.types import Ladder, ScheduleReminder


def _climbs() -> Climbs:
    return Climbs(send_only=frozenset(INSTALLED.send_only()))


@dataclass(slots=True)
class ChatLadder:
    """The notices climbing in one chat session (``flows.climb`` decides; this prints)."""

    say: Callable[[str], None]
    climbs: Climbs = field(default_factory=_climbs)
    lang: Lang = DEFAULT_LANG

    def _note(self, what: str, /, **args: object) -> None:
        self.say(msg(what, **args).render(self.lang))

    def fired(self, reminder: ScheduleReminder, now: datetime) -> None:
        """A reminder fired in this chat (the messenger rung, delivered here)."""
        ladder = reminder.ladder
        if not reminder.critical or ladder is None:
            return
        if ladder.until == "delivered":
            self._note("ladder.delivered", key=reminder.key)
            return
        rest = msg("ladder.then").render(self.lang).join(ladder.rungs[1:])
        self.climbs.fired(reminder, now)
        self._note("ladder.fired", key=reminder.key, span=_span(ladder),
                   rest=rest or msg("ladder.nowhere"))

    def answered(self) -> None:
        """The customer typed something: every climbing notice stops."""
        for key in self.climbs.answered():
            self._note("ladder.answered", key=key)

    def clock(self, now: datetime) -> None:
        """The clock moved: the notices whose wait ran out climb, in order."""
        before = set(self.climbs.climbing)
        for rung in self.climbs.clock(now):
            title = rung_title(rung.rung) if self.lang == "ru" else rung.rung
            self._note("ladder.climbs", key=rung.key, at=f"{rung.at:%d.%m %H:%M}", rung=title)
        for key in sorted(before - set(self.climbs.climbing)):
            self._note("ladder.done", key=key)


def _span(ladder: Ladder) -> Msg:
    minutes = int(ladder.within.total_seconds() // 60)
    if minutes % 60 == 0:
        return msg("ladder.hours", count=minutes // 60)
    return msg("ladder.minutes", count=minutes)
