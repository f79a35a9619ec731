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

from bots.ladder import quiet_until, rung_title, waits_for_morning
from flows.types import Ladder, ScheduleReminder


@dataclass(slots=True)
class _Climb:
    key: str
    ladder: Ladder
    rung: int
    check: datetime


@dataclass(slots=True)
class ChatLadder:
    """The notices climbing in one chat session."""

    say: Callable[[str], None]
    climbing: dict[str, _Climb] = field(default_factory=dict)

    def fired(self, reminder: ScheduleReminder, now: datetime) -> None:
        """A reminder fired in this chat (the messenger rung, delivered here)."""
        ladder = reminder.ladder
        if not reminder.critical or ladder is None:
            return
        rest = ", затем ".join(ladder.rungs[1:]) or "больше некуда"
        if ladder.until == "delivered":
            self.say(f"[notice] '{reminder.key}': доставлено в этот чат — лестница окончена")
            return
        self.say(f"[notice] '{reminder.key}': если клиент не ответит за {_span(ladder)}: {rest}")
        self.climbing[reminder.key] = _Climb(reminder.key, ladder, 0, now + ladder.within)

    def answered(self) -> None:
        """The customer typed something: every climbing notice stops."""
        for climb in self.climbing.values():
            self.say(f"[notice] '{climb.key}': клиент ответил — лестница остановлена")
        self.climbing.clear()

    def clock(self, now: datetime) -> None:
        """The clock moved: the notices whose wait ran out climb, in order."""
        for climb in list(self.climbing.values()):
            while climb.key in self.climbing and climb.check <= now:
                self._climb(climb)

    def _climb(self, climb: _Climb) -> None:
        climb.rung += 1
        if climb.rung >= len(climb.ladder.rungs):
            self.say(f"[notice] '{climb.key}': ответа нет, лестница пройдена до конца")
            del self.climbing[climb.key]
            return
        rung = climb.ladder.rungs[climb.rung]
        at = climb.check
        if waits_for_morning(rung) and not climb.ladder.urgent \
                and (morning := quiet_until(at)) is not None:
            at = morning
        self.say(f"[notice] '{climb.key}': ответа нет — {at:%d.%m %H:%M} "
                 f"уведомление: {rung_title(rung)} (в чате не отправляется)")
        climb.check = at + climb.ladder.within


def _span(ladder: Ladder) -> str:
    minutes = int(ladder.within.total_seconds() // 60)
    return f"{minutes // 60} ч" if minutes % 60 == 0 else f"{minutes} мин"
