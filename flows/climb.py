"""How a critical notice climbs its ladder over time, as a pure simulation (issue 14).

``svyaz test`` and ``svyaz chat`` use it to show what the running bot (``bots.ladder``) would
do: the reminder's own message is the first rung; the customer doing anything stops the climb;
with no answer within ``within`` the next rung goes; rungs on a send-only channel (SMS,
e-mail: the caller says which) wait for 09:00 between 21:00 and 09:00 unless the notice is
``urgent``; ``until: delivered`` ends at the first rung. No I/O, no clock of its own: the
caller moves time. The runtime's own climbing is ``bots.ladder``'s; this is what it promises.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flows.types import ScheduleReminder

QUIET_FROM, QUIET_UNTIL = 21, 9  # send-only rungs wait for the morning unless urgent


def quiet_until(now: datetime) -> datetime | None:
    """The next 09:00 when ``now`` (business time) is between 21:00 and 09:00, else None."""
    if QUIET_UNTIL <= now.hour < QUIET_FROM:
        return None
    morning = now.replace(hour=QUIET_UNTIL, minute=0, second=0, microsecond=0)
    return morning if now.hour < QUIET_UNTIL else morning + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Rung:
    """A rung that went out: the notice's reminder key, the rung (``sms``) and when."""

    key: str
    rung: str
    at: datetime


@dataclass(slots=True)
class _Climb:
    reminder: ScheduleReminder
    rung: int
    check: datetime


@dataclass(slots=True)
class Climbs:
    """The notices climbing for one customer. ``send_only``: the rungs that keep the night
    rule (the bot passes its send-only channels)."""

    send_only: Collection[str] = ()
    climbing: dict[str, _Climb] = field(default_factory=dict)

    def fired(self, reminder: ScheduleReminder, now: datetime) -> bool:
        """A critical reminder fired (its message is the first rung); True when it climbs."""
        ladder = reminder.ladder
        if not reminder.critical or ladder is None or ladder.until == "delivered":
            return False
        self.climbing[reminder.key] = _Climb(reminder, 0, now + ladder.within)
        return True

    def answered(self) -> list[str]:
        """The customer did something: every climb stops. The keys that stopped."""
        stopped = list(self.climbing)
        self.climbing.clear()
        return stopped

    def clock(self, now: datetime) -> list[Rung]:
        """Time moved to ``now``: the rungs that went out meanwhile, in order."""
        sent: list[Rung] = []
        for climb in list(self.climbing.values()):
            while climb.reminder.key in self.climbing and climb.check <= now:
                rung = self._next(climb)
                if rung is not None:
                    sent.append(rung)
        return sorted(sent, key=lambda r: r.at)

    def _next(self, climb: _Climb) -> Rung | None:
        ladder = climb.reminder.ladder
        assert ladder is not None  # (``fired`` keeps only notices with a ladder)
        climb.rung += 1
        if climb.rung >= len(ladder.rungs):
            del self.climbing[climb.reminder.key]
            return None
        rung, at = ladder.rungs[climb.rung], climb.check
        if rung in self.send_only and not ladder.urgent and (morning := quiet_until(at)):
            at = morning
        climb.check = at + ladder.within
        return Rung(climb.reminder.key, rung, at)
