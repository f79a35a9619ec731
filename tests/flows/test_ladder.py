"""The escalation ladder of a critical reminder (issue 14, the language): schema, checks with
positions, the compiled ``Ladder`` on the effect, and how ``svyaz test`` shows and asserts it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from flows import convtest, engine, ladders, loader, schema
from flows.model import FlowSet
from flows.problems import Problem
from flows.types import Ladder, ScheduleReminder, StartEvent

CHANNELS = ("vk", "max", "web", "sms", "email")
NOW = datetime(2026, 1, 12, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
REMIND = """
flow: visit
triggers: [{{command: start}}]
vars: {{day: "2026-01-14", time: "15:00"}}
steps:
  book:
    remind:
      flow: visit_reminder
      at: "{{{{ day }}}} {{{{ time }}}}"
      before: 24h
      key: visit-24h
{extra}
    say: Записали
"""
REMINDER_FLOW = "flow: visit_reminder\ntriggers: [{timer: true}]\nsteps:\n  hi:\n    say: Ждём\n"
LADDER = "      critical: true\n      escalate: [messenger, sms, email]"


def folder(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "visit.yaml").write_text(REMIND.format(extra=extra).lstrip("\n"), encoding="utf-8")
    (tmp_path / "visit_reminder.yaml").write_text(REMINDER_FLOW, encoding="utf-8")
    return tmp_path


def problems(tmp_path: Path, extra: str, channels: Any = CHANNELS) -> list[Problem]:
    _, found = loader.check(folder(tmp_path, extra), channels=channels, lang="en")
    return [p for p in found if p.severity == "error"]


def compiled(tmp_path: Path, extra: str) -> FlowSet:
    flows, found = loader.check(folder(tmp_path, extra), channels=CHANNELS)
    assert flows is not None, "\n".join(map(str, found))
    return flows


def scheduled(flows: FlowSet) -> ScheduleReminder:
    turn = engine.advance(flows, None, StartEvent(), NOW)
    (effect,) = turn.effects
    assert isinstance(effect, ScheduleReminder)
    return effect


# ----------------------------------------------------------------------------- schema


def test_the_json_schema_describes_every_ladder_key() -> None:
    remind: Any = schema.json_schema()["$defs"]["Remind"]  # type: ignore[index]
    for key in ("critical", "escalate", "until", "within", "urgent"):
        assert remind["properties"][key]["description"], key
    assert remind["properties"]["until"]["enum"] == ["answered", "delivered"]


def test_an_editor_is_offered_the_rungs_of_the_bot() -> None:
    remind: Any = schema.json_schema(CHANNELS)["$defs"]["Remind"]  # type: ignore[index]
    (array,) = [o for o in remind["properties"]["escalate"]["anyOf"] if o["type"] == "array"]
    assert array["items"]["enum"] == ["messenger", *CHANNELS]


# ----------------------------------------------------------------------------- compiled


def test_the_owners_example_compiles_to_a_ladder(tmp_path: Path) -> None:
    extra = LADDER + "\n      until: delivered\n      within: 90m\n      urgent: true"
    reminder = compiled(tmp_path, extra).flows["visit"].steps["book"].remind[0]
    assert reminder.critical is True
    assert reminder.ladder == Ladder(
        rungs=("messenger", "sms", "email"), until="delivered",
        within=timedelta(minutes=90), urgent=True,
    )


def test_defaults_answered_within_two_hours_not_at_night(tmp_path: Path) -> None:
    reminder = compiled(tmp_path, LADDER).flows["visit"].steps["book"].remind[0]
    assert reminder.ladder == Ladder(rungs=("messenger", "sms", "email"), until="answered",
                                     within=timedelta(hours=2), urgent=False)


def test_critical_without_a_ladder_is_fine(tmp_path: Path) -> None:
    reminder = compiled(tmp_path, "      critical: true").flows["visit"].steps["book"].remind[0]
    assert (reminder.critical, reminder.ladder) == (True, None)
    plain = compiled(tmp_path, "").flows["visit"].steps["book"].remind[0]
    assert (plain.critical, plain.ladder) == (False, None)


def test_the_effect_carries_the_ladder(tmp_path: Path) -> None:
    effect = scheduled(compiled(tmp_path, LADDER + "\n      within: 30m"))
    assert effect.key == "visit-24h"
    assert effect.at == datetime(2026, 1, 13, 12, 0, tzinfo=UTC)  # 15:00 Moscow, a day before
    assert effect.critical is True
    assert effect.ladder == Ladder(rungs=("messenger", "sms", "email"),
                                   within=timedelta(minutes=30))
    plain = scheduled(compiled(tmp_path, ""))
    assert (plain.critical, plain.ladder) == (False, None)


def test_an_effect_built_positionally_keeps_working() -> None:
    effect = ScheduleReminder("k", NOW, "ping", {"a": 1})
    assert (effect.vars, effect.critical, effect.ladder) == ({"a": 1}, False, None)


# ----------------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    ("extra", "line", "column", "words"),
    [
        ("      escalate: [messenger, sms]", 11, 7,
         ["step 'book': 'escalate' climbs channels only for a critical notice",
          "add 'critical: true' or remove 'escalate'"]),
        ("      critical: true\n      escalate: []", 12, 17,
         ["'escalate' needs at least one rung, e.g. [messenger, sms, email]"]),
        ("      critical: true\n      escalate: [sms, messenger, sms]", 12, 34,
         ["the rung 'sms' is listed twice"]),
        ("      critical: true\n      escalate: [messenger, telegram]", 12, 29,
         ["no channel 'telegram' to climb here",
          "write messenger (the customer's messengers) or one of: email, max, sms, vk, web"]),
        ("      critical: true\n      escalate: [any]", 12, 18, ["no channel 'any' to climb"]),
        ("      critical: true\n      within: 2h", 12, 7,
         ["'within' only makes sense on a ladder",
          "add 'escalate: [messenger, sms, email]' with 'critical: true', or remove 'within'"]),
        ("      critical: true\n      until: delivered", 12, 7,
         ["'until' only makes sense on a ladder"]),
        ("      urgent: true", 11, 7, ["'urgent' only makes sense on a ladder"]),
        (LADDER + "\n      within: 0h", 13, 15, ["'within: 0h' leaves no time to answer"]),
        (LADDER + "\n      within: 2 hourz", 13, 15,
         ["'2 hourz' is not a duration", "e.g. 30m, 2h, 1d"]),
        (LADDER + "\n      within: 8 дней", 13, 15,
         ["'within: 8 дней' waits too long before the next rung (more than a week)"]),
        ("      critical: true\n      escalate: [SMS]", 12, 18,
         ["'SMS' is not a channel name: use lower-case Latin letters"]),
        (LADDER + "\n      until: read", 13, 14,
         ["'read' is not allowed here", "allowed: answered, delivered"]),
    ],
)
def test_one_mistake_one_clear_message(
    tmp_path: Path, extra: str, line: int, column: int, words: list[str]
) -> None:
    found = problems(tmp_path, extra)
    assert len(found) == 1, "\n".join(map(str, found))
    problem = found[0]
    assert problem.file.endswith("visit.yaml")
    assert (problem.line, problem.column) == (line, column), str(problem)
    for word in words:
        assert word in problem.message, str(problem)


def test_any_lower_case_name_passes_when_the_channels_are_unknown(tmp_path: Path) -> None:
    extra = "      critical: true\n      escalate: [messenger, telegram]"
    assert problems(tmp_path, extra, channels=None) == []
    assert len(problems(tmp_path, extra)) == 1


def test_a_problem_points_at_its_reminder_in_a_list(tmp_path: Path) -> None:
    text = dedent("""
        flow: a
        triggers: [{timer: true}]
        steps:
          one:
            remind:
              - {flow: a, after: 1h}
              - flow: a
                after: 1h
                urgent: true
    """).lstrip()
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    _, found = loader.check(tmp_path, lang="en")
    assert [(p.line, p.column) for p in found] == [(9, 9)], "\n".join(map(str, found))


# ----------------------------------------------------------------------------- svyaz test


TEST_FILE = """
tests:
  - name: ladder
    turns:
      - start: true
        effects: [{{remind: {want}}}]
"""


def play(tmp_path: Path, flows: FlowSet, want: str) -> convtest.ConvResult:
    path = tmp_path / "visit.test.yaml"
    path.write_text(TEST_FILE.format(want=want), encoding="utf-8")
    (result,) = convtest.run_file(path, flows)
    return result


@pytest.mark.parametrize(
    ("want", "ok"),
    [
        ("{critical: true, escalate: [messenger, sms, email], until: answered, within: 2h}", True),
        ("{key: visit-24h, within: 120m, urgent: false}", True),
        ("{critical: false}", False),
        ("{escalate: [messenger, email]}", False),
        ("{within: 1h}", False),
        ("{escalate: null}", False),
    ],
)
def test_a_conversation_test_asserts_the_ladder(
    tmp_path: Path, want: str, ok: bool
) -> None:
    flows = compiled(tmp_path, LADDER)
    result = play(tmp_path, flows, want)
    assert result.ok is ok, result.diff


def test_a_plain_reminder_asserts_it_has_no_ladder(tmp_path: Path) -> None:
    flows = compiled(tmp_path, "")
    assert play(tmp_path, flows, "{critical: false, escalate: null}").ok
    assert not play(tmp_path, flows, "{critical: true}").ok


def test_a_failed_test_shows_the_ladder_in_the_diff(tmp_path: Path) -> None:
    result = play(tmp_path, compiled(tmp_path, LADDER), "{within: 1h}")
    assert "+ remind: {'flow': 'visit_reminder', 'key': 'visit-24h'" in result.diff
    assert ("'critical': True, 'escalate': ['messenger', 'sms', 'email'], "
            "'until': 'answered', 'within': '2h', 'urgent': False}") in result.diff


# ----------------------------------------------------------------------------- display


@pytest.mark.parametrize(
    ("value", "text"),
    [(timedelta(hours=2), "2h"), (timedelta(minutes=90), "90m"), (timedelta(days=1), "1d"),
     (timedelta(weeks=2), "2w"), (timedelta(hours=48), "2d"), (timedelta(seconds=30), "30s"),
     (timedelta(0), "0s")],
)
def test_duration_text(value: timedelta, text: str) -> None:
    assert ladders.duration_text(value) == text


def test_urgency_text() -> None:
    ladder = Ladder(rungs=("messenger", "sms", "email"), within=timedelta(minutes=30))
    assert ladders.urgency_text(True, ladder, "en") == (
        "[critical; escalate: messenger → sms → email until answered within 30m]"
    )
    night = Ladder(rungs=("sms",), until="delivered", urgent=True)
    assert ladders.urgency_text(True, night, "en") == (
        "[critical; escalate: sms until delivered within 2h; urgent: also at night]"
    )
    assert ladders.urgency_text(True, None, "en") == "[critical]"
    assert ladders.urgency_text(False, None, "en") == ""


def test_urgency_text_in_russian_by_default() -> None:
    ladder = Ladder(rungs=("messenger", "sms"), within=timedelta(minutes=30))
    assert ladders.urgency_text(True, ladder) == (
        "[важное; лестница: messenger → sms пока клиент не ответит, шаг 30m]"
    )
    night = Ladder(rungs=("sms",), until="delivered", urgent=True)
    assert ladders.urgency_text(True, night) == (
        "[важное; лестница: sms пока не доставлено, шаг 2h; срочное: и ночью]"
    )
    assert ladders.urgency_text(False, None) == ""
