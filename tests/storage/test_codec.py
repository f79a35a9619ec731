"""storage.codec: durable effects keep a critical reminder's ladder, and old stored effects
(written before the ladder existed) still decode. Pure: no Redis."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from flows.types import CancelReminder, Ladder, ScheduleReminder
from storage.codec import decode_effects, encode_effects
from storage.errors import CodecError

AT = datetime(2026, 1, 13, 12, 0, tzinfo=UTC)
LADDER = Ladder(rungs=("messenger", "sms", "email"), until="delivered",
                within=timedelta(minutes=90), urgent=True)
# A reminder as the version before the ladder stored it with its state.
OLD = (
    '{"ch":"max","fx":[{"t":"remind","key":"visit-24h","at":"2026-01-13T12:00:00+00:00",'
    '"flow":"visit_reminder","vars":{"day":"2026-01-14"}},{"t":"cancel","key":"old"}]}'
)


def test_a_critical_reminder_keeps_its_ladder() -> None:
    effect = ScheduleReminder("visit-24h", AT, "visit_reminder", {"day": "2026-01-14"},
                              critical=True, ladder=LADDER)
    raw = encode_effects("vk", [effect])
    assert json.loads(raw)["fx"][0]["ladder"] == {
        "rungs": ["messenger", "sms", "email"], "until": "delivered", "within": 5400,
        "urgent": True,
    }
    assert decode_effects(raw) == ("vk", [effect])


def test_critical_without_a_ladder() -> None:
    effect = ScheduleReminder("k", AT, "f", critical=True)
    raw = encode_effects("vk", [effect])
    assert "ladder" not in json.loads(raw)["fx"][0]
    assert decode_effects(raw) == ("vk", [effect])


def test_an_old_stored_effect_decodes_with_the_defaults() -> None:
    channel, effects = decode_effects(OLD)
    assert channel == "max"
    assert effects == [
        ScheduleReminder("visit-24h", AT, "visit_reminder", {"day": "2026-01-14"}),
        CancelReminder("old"),
    ]
    reminder = effects[0]
    assert isinstance(reminder, ScheduleReminder)
    assert (reminder.critical, reminder.ladder) == (False, None)


def test_a_plain_reminder_is_stored_as_before() -> None:
    """No new keys for a plain reminder: a process of the older version still reads it."""
    _, effects = decode_effects(OLD)
    assert encode_effects("max", effects) == OLD
    (reminder, cancel) = effects
    assert isinstance(reminder, ScheduleReminder)
    about = replace(reminder, about=AT + timedelta(days=1))  # (the owner's list only)
    assert encode_effects("max", [about, cancel]) == OLD


@pytest.mark.parametrize(
    "ladder",
    [
        {"rungs": "sms", "until": "answered", "within": 7200},
        {"rungs": ["sms", 5], "until": "answered", "within": 7200},
        {"rungs": ["sms"], "until": "read", "within": 7200},
        {"rungs": ["sms"], "until": "answered", "within": "2h"},
        {"rungs": ["sms"], "until": "answered", "within": True},
        {"rungs": ["sms"], "until": "answered"},
        {"rungs": ["sms"], "until": "answered", "within": 7200, "extra": 1},
        "sms",
    ],
)
def test_a_bad_stored_ladder_is_refused(ladder: object) -> None:
    item = {"t": "remind", "key": "k", "at": AT.isoformat(), "flow": "f", "critical": True,
            "ladder": ladder}
    with pytest.raises(CodecError):
        decode_effects(json.dumps({"ch": "vk", "fx": [item]}))


def test_a_reminder_record_keeps_what_it_reminds_of() -> None:
    from storage.reminders import Record

    record = Record("visit-24h", "visit_reminder", AT, {}, about=AT + timedelta(days=1))
    assert Record.load("visit-24h", record.dump()) == record
    plain = Record("k", "f", AT, {})
    assert "about" not in plain.dump()
    assert Record.load("k", plain.dump()) == plain
