"""``svyaz chat``: talk to the flows in a terminal as a customer, with a clock you can move.

Owns ``ChatSession``: the dialogue state kept in memory, the fake clock, the reminders the
flows scheduled (fired as ``TimerEvent`` when ``/time`` moves past them), pretend answers to
HTTP calls, and the readable printing of replies and effects. Buttons are numbered; typing the
number presses the button.

It must not touch Redis, the network or the real platforms; it only calls
``flows.engine.advance``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TextIO, assert_never
from zoneinfo import ZoneInfo

from bots.chatladder import ChatLadder
from flows import ladders
from flows.chain import MAX_CALLS, Chain, GiveUp
from flows.engine import advance, give_up
from flows.model import FlowSet
from flows.types import (
    Button,
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
    SaveProfile,
    ScheduleReminder,
    SetTags,
    StartEvent,
    StartFlowEvent,
    TextEvent,
    TimerEvent,
    Turn,
)

HELP = """commands:
  1, 2, …                 press the numbered button
  /time +1d | +2h | +30m | +1w | 2026-12-24 09:00   move the clock, fire due reminders
  /time                   show the clock and the pending reminders
  /start [PAYLOAD]        the platform's start (deep-link payload optional)
  /flow NAME              the business starts flow NAME (like /api/v1)
  /phone NUMBER           share a phone through the contact button
  /state                  the stored dialogue state (JSON)
  /quit                   leave (also Ctrl-D)
anything else is sent as the customer's text."""

_STEP_RE = re.compile(r"(\d+)([wdhm])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_clock(arg: str, now: datetime) -> datetime | None:
    """``+1d2h`` (relative) or ``2026-12-24 09:00`` (local wall clock) -> the new time."""
    text = arg.strip().replace(" ", "")
    if text.startswith("+"):
        steps = _STEP_RE.findall(text[1:])
        if not steps or "".join(n + u for n, u in steps) != text[1:]:
            return None
        delta = sum((timedelta(**{_UNITS[u]: int(n)}) for n, u in steps), timedelta())
        return now + delta
    try:
        moment = datetime.fromisoformat(arg.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)


@dataclass(slots=True)
class ChatSession:
    """One customer talking to ``flows`` at a fake ``now``; prints everything to ``out``."""

    flows: FlowSet
    now: datetime
    out: TextIO
    http_ok: bool = True
    state: DialogState | None = None
    reminders: dict[str, ScheduleReminder] = field(default_factory=dict)
    buttons: tuple[Button, ...] = ()
    ladder: ChatLadder = field(default_factory=lambda: ChatLadder(say=lambda _: None))

    @classmethod
    def start(cls, flows: FlowSet, out: TextIO, *, now: datetime | None = None) -> ChatSession:
        zone = ZoneInfo(flows.timezone)
        clock = now.astimezone(zone) if now else datetime.now(zone).replace(second=0, microsecond=0)
        session = cls(flows=flows, now=clock, out=out)
        session.ladder.say = session._print  # critical reminders' pretend climb
        return session

    # ----------------------------------------------------------------- input

    def handle(self, line: str) -> bool:
        """Act on one typed line; False when the customer leaves."""
        text = line.strip()
        if not text:
            return True
        if text in ("/quit", "/exit", "/q"):
            return False
        command, _, arg = text.partition(" ")
        if command.startswith("/") and command[1:] in _COMMANDS:
            _COMMANDS[command[1:]](self, arg.strip())
        else:
            self.ladder.answered()  # the customer acted: a climbing notice stops
            self.send(self._customer_event(text))
        return True

    def _customer_event(self, text: str) -> Event:
        if text.isdecimal() and 1 <= int(text) <= len(self.buttons):
            button = self.buttons[int(text) - 1]
            return ButtonEvent(button=button.id, text=button.text)
        return TextEvent(text)

    # ----------------------------------------------------------------- engine

    def send(self, event: Event) -> None:
        """One event through the engine, then the HTTP results it waits for, bounded as in the
        runtime (``flows.chain``)."""
        chain = Chain(event)
        while (item := chain.next()) is not None:
            if isinstance(item, CallHttp):
                chain.feed(self._pretend(item))
                continue
            if isinstance(item, GiveUp):
                self._print(f"  (stopped: more than {MAX_CALLS} HTTP calls for one message; "
                            "the customer gets an apology and the menu)")
                turn = give_up(self.flows, self.state, self.now)
            else:
                turn = advance(self.flows, self.state, item, self.now)
            self.state = turn.state
            self._show(turn)
            chain.feed(*self._apply(turn.effects))

    def move_clock(self, moment: datetime) -> None:
        """Set the clock and fire, in order, every reminder that fell due."""
        if moment < self.now:
            self._print("  (the clock goes back; reminders already fired stay fired)")
        self.now = moment.astimezone(ZoneInfo(self.flows.timezone))
        self._print(f"[time] {self.now:%Y-%m-%d %H:%M %a} ({self.flows.timezone})")
        for reminder in sorted(self.reminders.values(), key=lambda r: r.at):
            if reminder.at > self.now:
                break
            del self.reminders[reminder.key]
            self._print(f"[reminder] '{reminder.key}' fires: flow {reminder.flow}")
            self.send(TimerEvent(flow=reminder.flow, key=reminder.key, vars=reminder.vars))
            self.ladder.fired(reminder, reminder.at.astimezone(self.now.tzinfo))
        self.ladder.clock(self.now)

    def _pretend(self, call: CallHttp) -> CallResultEvent:
        status = 200 if self.http_ok else 503
        self._print(f"    (pretend answer: HTTP {status}, no body)")
        return CallResultEvent(call.call_id, self.http_ok, status)

    def _apply(self, effects: Iterable[Effect]) -> list[CallHttp]:
        """Keep reminders; return the calls to make (the owner is pretended told)."""
        calls: list[CallHttp] = []
        for effect in effects:
            if not isinstance(effect, SaveProfile | RecordConsent):  # (shown with the reply)
                self._print("  " + describe(effect, self.flows.timezone))
            match effect:
                case ScheduleReminder():
                    self.reminders[effect.key] = effect
                case CancelReminder():
                    self.reminders.pop(effect.key, None)
                case CallHttp():
                    calls.append(effect)
                case (Handoff() | LinkChannel() | SaveProfile() | RecordConsent()
                      | ReminderPassed() | SetTags()):
                    pass  # described above; nothing to keep
                case _:
                    assert_never(effect)
        return calls

    # ----------------------------------------------------------------- output

    def _show(self, turn: Turn) -> None:
        """The customer's answer's notes ([consent], [profile]) first: they happened before
        the bot's next words. Typing a number presses a choice of the last reply with any."""
        for effect in turn.effects:
            if isinstance(effect, SaveProfile | RecordConsent):
                self._print("  " + describe(effect, self.flows.timezone))
        for reply in turn.replies:
            self._print(render_reply(reply))
        if turn.replies:
            self.buttons = next((_choices(r) for r in reversed(turn.replies) if _choices(r)), ())

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # ----------------------------------------------------------------- commands

    def _cmd_time(self, arg: str) -> None:
        if not arg:
            self._print(f"[time] {self.now:%Y-%m-%d %H:%M %a} ({self.flows.timezone})")
            for r in sorted(self.reminders.values(), key=lambda r: r.at):
                self._print(f"  pending {describe(r, self.flows.timezone)}")
            return
        moment = parse_clock(arg, self.now)
        if moment is None:
            self._print("  (use /time +1d, +2h, +30m, +1w or /time 2026-12-24 09:00)")
            return
        self.move_clock(moment)

    def _cmd_start(self, arg: str) -> None:
        self.send(StartEvent(payload=arg or None))

    def _cmd_flow(self, arg: str) -> None:
        if arg not in self.flows.flows:
            self._print(f"  (no flow '{arg}'; flows: {', '.join(sorted(self.flows.flows))})")
            return
        self.send(StartFlowEvent(flow=arg))

    def _cmd_phone(self, arg: str) -> None:
        self.send(ContactEvent(phone=arg))

    def _cmd_state(self, arg: str) -> None:
        state = self.state or DialogState()
        self._print(state.model_dump_json(by_alias=True, exclude_defaults=True))

    def _cmd_help(self, arg: str) -> None:
        self._print(HELP)


_COMMANDS = {
    "time": ChatSession._cmd_time,
    "start": ChatSession._cmd_start,
    "flow": ChatSession._cmd_flow,
    "phone": ChatSession._cmd_phone,
    "state": ChatSession._cmd_state,
    "help": ChatSession._cmd_help,
}


def render_reply(reply: Reply) -> str:
    """A reply as terminal lines: the text, then its choices numbered as the bot's text
    numbers them (1. …, from 1 in each reply; links are not numbered), then its links."""
    body = reply.text.replace("\n", "\n     ")
    lines = [f"bot: {body}"]
    if reply.image_url:
        lines.append(f"     [image] {reply.image_url}")
    choices = _choices(reply)
    if choices:
        lines.append("     " + "   ".join(f"{i}. {b.text}" for i, b in enumerate(choices, 1)))
    lines.extend(f"     [link] {b.text} -> {b.url}" for b in reply.buttons if b.url)
    if reply.request_phone:
        lines.append("     [share phone] type /phone +79991234567")
    return "\n".join(lines)


def _choices(reply: Reply) -> tuple[Button, ...]:
    return tuple(b for b in reply.buttons if not b.url)


def describe(effect: Effect, timezone: str = "UTC") -> str:
    """One readable line for an effect."""
    match effect:
        case ScheduleReminder():
            at = effect.at.astimezone(ZoneInfo(timezone)) if effect.at.tzinfo else effect.at
            urgency = ladders.urgency_text(effect.critical, effect.ladder)
            extra = f" {urgency}" if urgency else ""
            extra += f" {dict(effect.vars)}" if effect.vars else ""
            return f"[remind] '{effect.key}' at {at:%Y-%m-%d %H:%M} -> flow {effect.flow}{extra}"
        case ReminderPassed():
            at = effect.at.astimezone(ZoneInfo(timezone)) if effect.at.tzinfo else effect.at
            return (f"[reminder not set] '{effect.key}': its time {at:%Y-%m-%d %H:%M} "
                    f"has already passed")
        case CancelReminder():
            return f"[cancel reminder] '{effect.key}'"
        case CallHttp():
            body = "" if effect.json is None else f" {effect.json}"
            return f"[http] {effect.method} {effect.url}{body}"
        case Handoff():
            return f"[handoff] to a human operator{': ' + effect.reason if effect.reason else ''}"
        case LinkChannel():
            return f"[offer channel] {effect.target or 'any other channel'}"
        case SaveProfile():
            return f"[profile] {effect.field} = {effect.value}"
        case RecordConsent():
            answer = "granted" if effect.granted else "refused"
            what = " to advertising" if effect.purpose == "ads" else ""
            return f"[consent{what}] {answer} (text version {effect.text_version})"
        case SetTags():
            return f"[tag] {', '.join(effect.tags)}"
        case _:
            assert_never(effect)


def run_chat(session: ChatSession, lines: TextIO, *, prompt: bool, first: Event) -> None:
    """Send ``first``, then read lines until /quit or end of input."""
    session.send(first)
    while True:
        if prompt:
            print("you> ", end="", file=session.out, flush=True)
        line = lines.readline()
        if not line or not session.handle(line):
            return
