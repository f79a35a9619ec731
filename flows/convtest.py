"""Conversation tests: ``*.test.yaml`` next to the flows, played against the engine.

Owns the test file format and its runner (``svyaz test``). A test is a list of turns: what
the customer does (``say``, ``press``, ``start``, ``contact``, ``photo``, ``file``, ``timer``,
``result``, ``flow``, ``resume``) and what must follow (``bot`` texts, ``buttons``,
``effects``, ``vars``, ``at``), on a fixed clock that only ``later`` moves. A failure reads
as a diff with the file and line of the turn.

Reads the test files (like the loader); otherwise pure. It must not change flows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from flows import compiler, effects, engine
from flows.climb import Climbs
from flows.convdiff import (
    describe,
    diff,
    effect_data,
    expected,
    fits,
    inline,
    rung_data,
    show,
    squash,
)
from flows.messages import DEFAULT_LANG, Lang, msg
from flows.model import FlowSet
from flows.problems import Problem, did_you_mean
from flows.schema import Duration
from flows.types import (
    JSON,
    Attachment,
    AttachmentEvent,
    AttachmentKind,
    Button,
    ButtonEvent,
    CallResultEvent,
    ContactEvent,
    DialogState,
    Event,
    Reply,
    ResumeEvent,
    ScheduleReminder,
    StartEvent,
    StartFlowEvent,
    TextEvent,
    TimerEvent,
    Turn,
)
from flows.validation import validate
from flows.yamlload import Document, YamlProblem, parse

__all__ = ["effect_data"]  # (and the test file's models and runners below)

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
    photo: str | None = None  # the customer sends a photo (its file name)
    file: str | None = None  # ... or a document
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


# What the customer does that stops a climbing notice (a ladder): writing, pressing, sharing.
CUSTOMER_ACTS = (TextEvent, ButtonEvent, ContactEvent, AttachmentEvent, StartEvent)


def sent_file(turn: TestTurn) -> AttachmentEvent:
    """A ``photo:`` or ``file:`` turn: one file of that name; its id (what ``save`` keeps) is
    ``photo:<name>`` or ``file:<name>``, so a test can expect it in ``vars``."""
    kind: AttachmentKind = "photo" if turn.photo is not None else "file"
    name = turn.photo if turn.photo is not None else turn.file or ""
    return AttachmentEvent((Attachment(id=f"{kind}:{name}", kind=kind, ref="test", name=name),))


@dataclasses.dataclass(frozen=True, slots=True)
class ConvResult:
    name: str
    ok: bool
    diff: str
    file: str
    line: int = 1


def run_folder(folder: str | Path, flows: FlowSet, *, lang: Lang = DEFAULT_LANG,
               send_only: Collection[str] = ()) -> list[ConvResult]:
    """Play every ``*.test.yaml`` of ``folder`` (``send_only``: the bot's notice-only
    channels, whose ladder rungs keep the night rule: ``flows.climb``)."""
    files = conversation_files(folder)
    return [result for path in files
            for result in run_file(path, flows, lang=lang, send_only=send_only)]


def conversation_files(folder: str | Path) -> list[Path]:
    """The conversation test files of ``folder``."""
    return sorted([*Path(folder).glob("*.test.yaml"), *Path(folder).glob("*.test.yml")])


def player(path: Path, doc: Document, index: int, case: Case, now: str, flows: FlowSet
           ) -> _Player:
    """A player of one test case (``flows.convcheck`` reads its ``problems``)."""
    return _Player(path, doc, index, case, now, flows)


def run_file(path: Path, flows: FlowSet, *, lang: Lang = DEFAULT_LANG,
             send_only: Collection[str] = ()) -> list[ConvResult]:
    try:
        doc = parse(path.read_text(encoding="utf-8"))
    except YamlProblem as exc:
        return [_broken(path, [Problem(str(path), exc.line, exc.column, exc.message, lang=lang)])]
    model, problems = validate(TestFile, doc, str(path))
    if model is None:
        return [_broken(path, [p.in_lang(lang) for p in problems])]
    return [
        _Player(path, doc, i, case, model.now, flows, lang, climbs=Climbs(send_only)).play()
        for i, case in enumerate(model.tests)
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
    lang: Lang = DEFAULT_LANG
    state: DialogState | None = None
    scheduled: list[ScheduleReminder] = dataclasses.field(default_factory=list)
    climbs: Climbs = dataclasses.field(default_factory=Climbs)  # critical notices (ladders)
    firing: ScheduleReminder | None = None  # the reminder a ``timer`` turn fires
    offered: tuple[Button, ...] = ()  # the buttons of the bot's last reply that had any
    problems: list[Problem] = dataclasses.field(default_factory=list)  # the test's own mistakes

    def play(self) -> ConvResult:
        flows = self.flows
        if self.case.env:
            flows = dataclasses.replace(flows, env={**flows.env, **self.case.env})
        tz = effects.zone(flows.timezone)
        now = effects.local_time(self.case.now or self.file_now, tz)
        line = self.doc.value_at(("tests", self.index)).line
        if now is None:
            return self._result(False, msg("convtest.bad_now", found=self.case.now
                                           ).render(self.lang), line)
        if self.case.vars:
            self.state = DialogState(vars=dict(self.case.vars))
        for number, turn in enumerate(self.case.turns):
            if turn.later:
                now += compiler.duration(turn.later)
            if turn.press is not None and (wrong := self._not_offered(turn.press, number)):
                return self._result(False, f"{wrong.file}:{wrong.line}: {wrong.message}",
                                    wrong.line)
            now, failed = self._turn(flows, turn, number, now)
            if failed is not None:
                return failed
        return self._result(True, "", line)

    def _turn(self, flows: FlowSet, turn: TestTurn, number: int, now: datetime
              ) -> tuple[datetime, ConvResult | None]:
        """Play one turn: the ladders that climbed meanwhile, then the customer's action."""
        climbed = [rung_data(r, flows.timezone) for r in self.climbs.clock(now)]
        event, now = self._event(turn, now)
        if event is None:
            result = None
        else:
            if isinstance(event, CUSTOMER_ACTS):
                self.climbs.answered()
            result = engine.advance(flows, self.state, event, now)
            self._after(result, event, now)
        problems = _check(turn, result, flows, self.lang, climbed)
        if not problems:
            return now, None
        where = self.doc.value_at(("tests", self.index, "turns", number)).line
        what = describe(event, self.lang) if event is not None else f"later: {turn.later}"
        head = msg("convtest.turn", number=number + 1, event=what).render(self.lang)
        return now, self._result(False, "\n".join([head, *problems]), where)

    def _after(self, result: Turn, event: Event, now: datetime) -> None:
        self.state = result.state
        self.offered = next((r.buttons for r in reversed(result.replies) if r.buttons),
                            () if result.replies else self.offered)
        self.scheduled.extend(e for e in result.effects if isinstance(e, ScheduleReminder))
        if isinstance(event, TimerEvent) and self.firing is not None:
            self.climbs.fired(self.firing, now)  # the reminder's message: the first rung

    def _not_offered(self, press: str, number: int) -> Problem | None:
        """A press of a button the bot did not offer (nor a trigger's or a command's)."""
        ids = {b.id for b in self.offered} | {b.text for b in self.offered}
        if press in ids or press in self.flows.buttons or press.startswith("cmd:"):
            return None
        where = self.doc.value_at(("tests", self.index, "turns", number, "press"))
        if not self.offered:
            text = msg("convtest.no_buttons", button=press)
        else:
            text = msg("convtest.no_such_button", button=press, hint=did_you_mean(press, ids),
                       buttons=", ".join(_button_name(b) for b in self.offered))
        self.problems.append(Problem(str(self.path), where.line, where.column, text,
                                     lang=self.lang))
        return self.problems[-1]

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
        if turn.photo is not None or turn.file is not None:
            return sent_file(turn), now
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
        self.firing = None
        for reminder in reversed(self.scheduled):
            if reminder.flow == flow:
                self.firing = reminder
                return TimerEvent(flow, reminder.key, dict(reminder.vars)), max(
                    now, reminder.at.astimezone(now.tzinfo)
                )
        return TimerEvent(flow, flow, {}), now


def _button_name(button: Button) -> str:
    return button.id if button.id == button.text else f"{button.id} ({button.text})"


def _check(turn: TestTurn, result: Turn | None, flows: FlowSet, lang: Lang,
           climbed: Sequence[dict[str, JSON]] = ()) -> list[str]:
    """What differs from what the turn expects (``climbed``: ladder rungs that went out
    before the turn's action, listed first among its effects)."""
    if result is None:  # ``later`` alone: only the ladders may have done something
        return _check_effects(turn, list(climbed), lang) if turn.effects is not None else []
    problems: list[str] = []
    replies = result.replies
    if turn.bot is not None:
        wanted = [turn.bot] if isinstance(turn.bot, str) else turn.bot
        if len(wanted) != len(replies) or any(
            squash(w) not in squash(r.text) for w, r in zip(wanted, replies, strict=False)
        ):
            problems.append(diff("convtest.replies", [f'"{w}"' for w in wanted],
                                 [show(r) for r in replies], lang))
    last = replies[-1] if replies else Reply("")
    if turn.buttons is not None and [b.text for b in last.buttons] != turn.buttons:
        problems.append(diff("convtest.buttons", turn.buttons, [b.text for b in last.buttons],
                             lang))
    if turn.phone_request is not None and last.request_phone != turn.phone_request:
        problems.append(_was("convtest.phone", turn.phone_request, last.request_phone, lang))
    if turn.effects is not None:
        got = [*climbed, *(effect_data(e, flows.timezone) for e in result.effects)]
        problems.extend(_check_effects(turn, got, lang))
    problems.extend(_check_state(turn, result.state, lang))
    return problems


def _check_effects(turn: TestTurn, got: list[dict[str, JSON]], lang: Lang) -> list[str]:
    wanted = turn.effects or []
    if len(got) == len(wanted) and all(
        fits(expected(w), g) for w, g in zip(wanted, got, strict=False)
    ):
        return []
    return [diff("convtest.effects", [inline(w) for w in wanted], [inline(g) for g in got],
                 lang)]


def _check_state(turn: TestTurn, state: DialogState, lang: Lang) -> list[str]:
    problems: list[str] = []
    for name, value in (turn.vars or {}).items():
        got = state.vars.get(name)
        if got != value:
            problems.append(_was("convtest.variable", value, got, lang, name=name))
    if turn.at is not None:
        here = f"{state.stack[-1].flow}/{state.stack[-1].step}" if state.stack else "end"
        if here != turn.at:
            problems.append(_was("convtest.position", turn.at, here, lang))
    return problems


def _was(key: str, wanted: object, got: object, lang: Lang, **more: object) -> str:
    return "  " + msg(key, wanted=repr(wanted) if key == "convtest.variable" else wanted,
                      got=repr(got) if key == "convtest.variable" else got, **more).render(lang)
