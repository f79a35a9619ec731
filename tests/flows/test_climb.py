"""flows.climb: how a critical notice climbs over time, as svyaz test and svyaz chat show it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flows.climb import Climbs, Rung, quiet_until
from flows.types import Ladder, ScheduleReminder

ZONE = ZoneInfo("Europe/Moscow")


def _reminder(ladder: Ladder | None, *, critical: bool = True) -> ScheduleReminder:
    return ScheduleReminder(flow="visit", key="visit-24h", at=datetime(2026, 1, 13, 12, 30,
                                                                       tzinfo=ZONE),
                            vars={}, critical=critical, ladder=ladder)


def at(hour: int, minute: int = 0, day: int = 12) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=ZONE)


def test_no_answer_climbs_one_rung_per_wait_and_stops_at_the_top() -> None:
    climbs = Climbs(send_only={"sms", "email"})
    ladder = Ladder(rungs=("messenger", "sms", "email"), within=timedelta(hours=2))
    assert climbs.fired(_reminder(ladder), at(10))
    assert climbs.clock(at(11, 59)) == []
    assert climbs.clock(at(12)) == [Rung("visit-24h", "sms", at(12))]
    assert climbs.clock(at(18)) == [Rung("visit-24h", "email", at(14))]  # late look: its time
    assert climbs.clock(at(23)) == []
    assert climbs.climbing == {}


def test_an_answer_stops_every_climb() -> None:
    climbs = Climbs(send_only={"sms"})
    assert climbs.fired(_reminder(Ladder(rungs=("messenger", "sms"))), at(10))
    assert climbs.answered() == ["visit-24h"]
    assert climbs.clock(at(23)) == []


def test_send_only_rungs_wait_for_the_morning_unless_urgent() -> None:
    for urgent, sms_at in ((False, at(9, day=13)), (True, at(22))):
        climbs = Climbs(send_only={"sms"})
        ladder = Ladder(rungs=("messenger", "vk", "sms"), within=timedelta(hours=1),
                        urgent=urgent)
        climbs.fired(_reminder(ladder), at(20))
        assert climbs.clock(at(21)) == [Rung("visit-24h", "vk", at(21))]  # a messenger: at once
        assert climbs.clock(at(10, day=13)) == [Rung("visit-24h", "sms", sms_at)]


def test_what_does_not_climb() -> None:
    climbs = Climbs()
    assert not climbs.fired(_reminder(None), at(10))
    plain = Ladder(rungs=("messenger", "sms"))
    assert not climbs.fired(_reminder(plain, critical=False), at(10))
    delivered = Ladder(rungs=("messenger", "sms"), until="delivered")
    assert not climbs.fired(_reminder(delivered), at(10))
    assert climbs.climbing == {}


def test_quiet_hours() -> None:
    assert quiet_until(at(20, 59)) is None
    assert quiet_until(at(21)) == at(9, day=13)
    assert quiet_until(at(3)) == at(9)
