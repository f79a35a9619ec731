"""Conversation tests: ``*.test.yaml`` next to the flows, played against the engine.

Owns the test file format and its runner (``svyaz test``). A test is a list of turns: what
the customer does (``say``, ``press``, ``start``, ``contact``, ``timer``, ``result``,
``flow``, ``resume``) and what must follow (``bot`` texts, ``buttons``, ``effects``,
``vars``, ``at``), on a fixed clock that only ``later`` moves. A failure reads as a diff
with the file and line of the turn.

Reads the test files (like the loader); otherwise pure. It must not change flows.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, assert_never

from pydantic import BaseModel, ConfigDict, Field

from flows import compiler, effects, engine, ladders
from flows.model import FlowSet
from flows.problems import Problem
from flows.schema import DURATION_PATTERN, Duration
from flows.types import (
    JSON,
    ButtonEvent,
    CallHttp,
    CallResultEvent,
    CancelReminder,
    ContactEvent,
    DialogState,
    Effect,
    Event,
    Handoff,
    LinkChannel,
    RecordConsent,
    ReminderPassed,
    Reply,
    ResumeEvent,
    SaveProfile,
    ScheduleReminder,
    StartEvent,
    StartFlowEvent,
    TextEvent,
    TimerEvent,
    Turn,
)
from flows.validation import validate
from flows.yamlload import Document, YamlProblem, parse

DEFAULT_NOW = "2026-01-12 10:00"  # a Monday morning


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CallResult(_Model):
    ok: bool = True
    status: int = 200
    data: JSON = None


class TestTurn(_Model):
    """One turn: one customer action (or none, with ``later`` alone) and the checks."""

    later: Duration | None = None
    say: str | None = None
    press: str | None = None
    start: str | bool | None = None
    contact: str | None = None
    timer: str | None = None
    result: CallResult | None = None
    flow: str | None = None
    with_: dict[str, JSON] | None = Field(default=None, alias="with")
    resume: bool | None = None
    bot: str | list[str] | None = None
    buttons: list[str] | None = None
    phone_request: bool | None = None
    effects: list[dict[str, JSON]] | None = None
    vars: dict[str, JSON] | None = None
    at: str | None = None


class Case(_Model):
    name: str
    now: str | None = None
    vars: dict[str, JSON] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    turns: list[TestTurn]


class TestFile(_Model):
    now: str = DEFAULT_NOW
    tests: list[Case] = Field(min_length=1)


@dataclasses.dataclass(frozen=True, slots=True)
class ConvResult:
    name: str
    ok: bool
    diff: str
    file: str
    line: int = 1


def run_folder(folder: str | Path, flows: FlowSet) -> list[ConvResult]:
    """Play every ``*.test.yaml`` of ``folder``."""
    files = sorted([*Path(folder).glob("*.test.yaml"), *Path(folder).glob("*.test.yml")])
    return [result for path in files for result in run_file(path, flows)]


def run_file(path: Path, flows: FlowSet) -> list[ConvResult]:
    try:
        doc = parse(path.read_text(encoding="utf-8"))
    except YamlProblem as exc:
        return [_broken(path, [Problem(str(path), exc.line, exc.column, exc.message)])]
    model, problems = validate(TestFile, doc, str(path))
    if model is None:
        return [_broken(path, problems)]
    return [
        _Player(path, doc, i, case, model.now, flows).play() for i, case in enumerate(model.tests)
    ]


def _broken(path: Path, problems: Sequence[Problem]) -> ConvResult:
    return ConvResult(path.name, False, "\n".join(map(str, problems)), str(path))


@dataclasses.dataclass(slots=True)
class _Player:
    path: Path
    doc: Document
    index: int
    case: Case
    file_now: str
    flows: FlowSet
    state: DialogState | None = None
    scheduled: list[ScheduleReminder] = dataclasses.field(default_factory=list)

    def play(self) -> ConvResult:
        flows = self.flows
        if self.case.env:
            flows = dataclasses.replace(flows, env={**flows.env, **self.case.env})
        tz = effects.zone(flows.timezone)
        now = effects.local_time(self.case.now or self.file_now, tz)
        line = self.doc.value_at(("tests", self.index)).line
        if now is None:
            return self._result(False, f"'now' is not a date and time: {self.case.now!r}", line)
        if self.case.vars:
            self.state = DialogState(vars=dict(self.case.vars))
        for number, turn in enumerate(self.case.turns):
            if turn.later:
                now += compiler.duration(turn.later)
            event, now = self._event(turn, now)
            if event is None:
                continue
            result = engine.advance(flows, self.state, event, now)
            self.state = result.state
            self.scheduled.extend(e for e in result.effects if isinstance(e, ScheduleReminder))
            problems = _check(turn, result, flows)
            if problems:
                where = self.doc.value_at(("tests", self.index, "turns", number)).line
                head = f"turn {number + 1} ({_describe(event)}):"
                return self._result(False, "\n".join([head, *problems]), where)
        return self._result(True, "", line)

    def _result(self, ok: bool, diff: str, line: int) -> ConvResult:
        text = f"{self.path.name}:{line}: {self.case.name}\n{diff}" if diff else ""
        return ConvResult(self.case.name, ok, text, str(self.path), line)

    def _event(self, turn: TestTurn, now: datetime) -> tuple[Event | None, datetime]:
        if turn.say is not None:
            return TextEvent(turn.say), now
        if turn.press is not None:
            return ButtonEvent(turn.press), now
        if turn.start is not None:
            payload = turn.start if isinstance(turn.start, str) else None
            return StartEvent(payload or None), now
        if turn.contact is not None:
            return ContactEvent(turn.contact), now
        if turn.timer is not None:
            return self._timer(turn.timer, now)
        if turn.result is not None:
            waiting = self.state.waiting if self.state else None
            r = turn.result
            return CallResultEvent(waiting or "", r.ok, r.status, r.data), now
        if turn.flow is not None:
            return StartFlowEvent(turn.flow, dict(turn.with_ or {})), now
        if turn.resume:
            return ResumeEvent("web"), now
        return None, now

    def _timer(self, flow: str, now: datetime) -> tuple[Event, datetime]:
        """The latest reminder scheduled for ``flow`` fires (the clock moves to its time)."""
        for reminder in reversed(self.scheduled):
            if reminder.flow == flow:
                return TimerEvent(flow, reminder.key, dict(reminder.vars)), max(
                    now, reminder.at.astimezone(now.tzinfo)
                )
        return TimerEvent(flow, flow, {}), now


def _check(turn: TestTurn, result: Turn, flows: FlowSet) -> list[str]:
    problems: list[str] = []
    replies = result.replies
    if turn.bot is not None:
        wanted = [turn.bot] if isinstance(turn.bot, str) else turn.bot
        if len(wanted) != len(replies) or any(
            _squash(w) not in _squash(r.text) for w, r in zip(wanted, replies, strict=False)
        ):
            problems.append(
                _diff("bot replies", [f'"{w}"' for w in wanted], [_show(r) for r in replies])
            )
    last = replies[-1] if replies else Reply("")
    if turn.buttons is not None and [b.text for b in last.buttons] != turn.buttons:
        problems.append(
            _diff("buttons of the last reply", turn.buttons, [b.text for b in last.buttons])
        )
    if turn.phone_request is not None and last.request_phone != turn.phone_request:
        problems.append(f"  phone request: expected {turn.phone_request}, got {last.request_phone}")
    if turn.effects is not None:
        got = [effect_data(e, flows.timezone) for e in result.effects]
        if len(got) != len(turn.effects) or not all(
            _fits(_expected(w), g) for w, g in zip(turn.effects, got, strict=False)
        ):
            problems.append(
                _diff("effects", [_inline(w) for w in turn.effects], [_inline(g) for g in got])
            )
    problems.extend(_check_state(turn, result.state))
    return problems


def _check_state(turn: TestTurn, state: DialogState) -> list[str]:
    problems: list[str] = []
    for name, value in (turn.vars or {}).items():
        got = state.vars.get(name)
        if got != value:
            problems.append(f"  variable '{name}': expected {value!r}, got {got!r}")
    if turn.at is not None:
        here = f"{state.stack[-1].flow}/{state.stack[-1].step}" if state.stack else "end"
        if here != turn.at:
            problems.append(f"  position: expected {turn.at}, got {here}")
    return problems


def effect_data(effect: Effect, timezone: str) -> dict[str, JSON]:
    """An effect as the plain mapping a test writes (times in the business's time zone)."""
    match effect:
        case ScheduleReminder():
            at = effect.at.astimezone(effects.zone(timezone)).strftime("%Y-%m-%d %H:%M")
            data: dict[str, JSON] = {"flow": effect.flow, "key": effect.key, "at": at,
                                     "vars": dict(effect.vars), "critical": effect.critical}
            return {"remind": data | _ladder_data(effect)}
        case ReminderPassed():
            at = effect.at.astimezone(effects.zone(timezone)).strftime("%Y-%m-%d %H:%M")
            return {"reminder_passed": {"flow": effect.flow, "key": effect.key, "at": at}}
        case CancelReminder():
            return {"cancel_reminder": effect.key}
        case CallHttp():
            return {"http": {"method": effect.method, "url": effect.url, "json": effect.json}}
        case Handoff():
            return {"handoff": effect.reason}
        case LinkChannel():
            return {"link_channel": effect.target or "any"}
        case SaveProfile():
            return {"profile": {effect.field: effect.value}}
        case RecordConsent():
            return {"consent": {"granted": effect.granted, "version": effect.text_version}}
        case _:
            assert_never(effect)


def _ladder_data(effect: ScheduleReminder) -> dict[str, JSON]:
    """The ladder as a flow writes it (``escalate: null``: none), so a test can assert it."""
    ladder = effect.ladder
    if ladder is None:
        return {"escalate": None}
    return {"escalate": list(ladder.rungs), "until": ladder.until,
            "within": ladders.duration_text(ladder.within), "urgent": ladder.urgent}


def _expected(wanted: Mapping[str, JSON]) -> Mapping[str, JSON]:
    """An expected effect with a reminder's ``within`` written as ``effect_data`` writes it
    (``120m`` -> ``2h``)."""
    remind = wanted.get("remind")
    if not isinstance(remind, dict) or not isinstance(within := remind.get("within"), str):
        return wanted
    if not re.fullmatch(DURATION_PATTERN, within):
        return wanted
    within = ladders.duration_text(compiler.duration(within))
    return {**wanted, "remind": {**remind, "within": within}}


def _fits(wanted: Any, got: Any) -> bool:
    """``wanted`` matches ``got``; mappings need only the keys the test writes."""
    if isinstance(wanted, Mapping) and isinstance(got, Mapping):
        return all(k in got and _fits(v, got[k]) for k, v in wanted.items())
    if isinstance(wanted, list) and isinstance(got, list):
        return len(wanted) == len(got) and all(map(_fits, wanted, got))
    return bool(wanted == got)


def _squash(text: str) -> str:
    return " ".join(text.split())


def _show(reply: Reply) -> str:
    buttons = " ".join(f"[{b.text}]" for b in reply.buttons)
    return f'"{_squash(reply.text)}"' + (f" {buttons}" if buttons else "")


def _inline(data: Mapping[str, JSON]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in data.items())


def _diff(what: str, wanted: Sequence[str], got: Sequence[str]) -> str:
    lines = [f"  {what} differ:", "    expected:"]
    lines += [f"      - {w}" for w in wanted] or ["      (nothing)"]
    lines += ["    got:"] + ([f"      + {g}" for g in got] or ["      (nothing)"])
    return "\n".join(lines)


def _describe(event: Event) -> str:
    if isinstance(event, TextEvent):
        return f'customer says "{event.text}"'
    if isinstance(event, ButtonEvent):
        return f"customer presses '{event.button}'"
    return type(event).__name__
