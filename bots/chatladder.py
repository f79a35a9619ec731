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
from flows.types import Ladder, ScheduleReminder


def _climbs() -> Climbs:
    return Climbs(send_only=frozenset(INSTALLED.send_only()))


@dataclass(slots=True)
class ChatLadder:
    """The notices climbing in one chat session (``flows.climb`` decides; this prints)."""

    say: Callable[[str], None]
    climbs: Climbs = field(default_factory=_climbs)

    def fired(self, reminder: ScheduleReminder, now: datetime) -> None:
        """A reminder fired in this chat (the messenger rung, delivered here)."""
        ladder = reminder.ladder
        if not reminder.critical or ladder is None:
            return
        if ladder.until == "delivered":
            self.say(f"[notice] '{reminder.key}': доставлено в этот чат — лестница окончена")
            return
        rest = ", затем ".join(ladder.rungs[1:]) or "больше некуда"
        self.climbs.fired(reminder, now)
        self.say(f"[notice] '{reminder.key}': если клиент не ответит за {_span(ladder)}: {rest}")

    def answered(self) -> None:
        """The customer typed something: every climbing notice stops."""
        for key in self.climbs.answered():
            self.say(f"[notice] '{key}': клиент ответил — лестница остановлена")

    def clock(self, now: datetime) -> None:
        """The clock moved: the notices whose wait ran out climb, in order."""
        before = set(self.climbs.climbing)
        for rung in self.climbs.clock(now):
            self.say(f"[notice] '{rung.key}': ответа нет — {rung.at:%d.%m %H:%M} "
                     f"уведомление: {rung_title(rung.rung)} (в чате не отправляется)")
        for key in sorted(before - set(self.climbs.climbing)):
            self.say(f"[notice] '{key}': ответа нет, лестница пройдена до конца")


def _span(ladder: Ladder) -> str:
    minutes = int(ladder.within.total_seconds() // 60)
    return f"{minutes // 60} ч" if minutes % 60 == 0 else f"{minutes} мин"
