"""``svyaz chat``: talk to the flows in a terminal as a customer, with a clock you can move.

Owns ``ChatSession``: the dialogue state kept in memory, the fake clock, the reminders the
flows scheduled (fired as ``TimerEvent`` when ``/time`` moves past them), pretend answers to
HTTP calls, and the readable printing of replies and effects. Buttons are numbered; typing the
number presses the button. Its own lines (prompt, notes, help) speak the owner's language
(``flows.catalogue_chat``); the flow's texts are printed as written.

It must not touch Redis, the network or the real platforms; it only calls
``flows.engine.advance``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TextIO, assert_never
from zoneinfo import ZoneInfo

from bots.chatladder import ChatLadder
from flows import ladders
from flows.chain import MAX_CALLS, Chain, GiveUp
from flows.engine import advance, give_up
from flows.messages import DEFAULT_LANG, Lang, Msg, msg
from flows.model import FlowSet
from flows.ru import WEEKDAYS_SHORT
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
    lang: Lang = DEFAULT_LANG  # of the chat's own lines (the flow's texts are as written)

    @classmethod
    def start(
        cls, flows: FlowSet, out: TextIO, *, now: datetime | None = None,
        lang: Lang = DEFAULT_LANG,
    ) -> ChatSession:
        zone = ZoneInfo(flows.timezone)
        clock = now.astimezone(zone) if now else datetime.now(zone).replace(second=0, microsecond=0)
        session = cls(flows=flows, now=clock, out=out, lang=lang)
        session.ladder = ChatLadder(say=session._print, lang=lang)  # the pretend climb
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
                self._say("chat.gave_up", count=MAX_CALLS)
                turn = give_up(self.flows, self.state, self.now)
            else:
                turn = advance(self.flows, self.state, item, self.now)
            self.state = turn.state
            self._show(turn)
            chain.feed(*self._apply(turn.effects))

    def move_clock(self, moment: datetime) -> None:
        """Set the clock and fire, in order, every reminder that fell due."""
        if moment < self.now:
            self._say("chat.clock_back")
        self.now = moment.astimezone(ZoneInfo(self.flows.timezone))
        self._print(clock_line(self.now, self.flows.timezone, self.lang))
        for reminder in sorted(self.reminders.values(), key=lambda r: r.at):
            if reminder.at > self.now:
                break
            del self.reminders[reminder.key]
            self._say("chat.fires", key=reminder.key, flow=reminder.flow)
            self.send(TimerEvent(flow=reminder.flow, key=reminder.key, vars=reminder.vars))
            self.ladder.fired(reminder, reminder.at.astimezone(self.now.tzinfo))
        self.ladder.clock(self.now)

    def _pretend(self, call: CallHttp) -> CallResultEvent:
        status = 200 if self.http_ok else 503
        self._say("chat.pretend", status=status)
        return CallResultEvent(call.call_id, self.http_ok, status)

    def _apply(self, effects: Iterable[Effect]) -> list[CallHttp]:
        """Keep reminders; return the calls to make (the owner is pretended told)."""
        calls: list[CallHttp] = []
        for effect in effects:
            if not isinstance(effect, SaveProfile | RecordConsent):  # (shown with the reply)
                self._print("  " + describe(effect, self.flows.timezone, self.lang))
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
                self._print("  " + describe(effect, self.flows.timezone, self.lang))
        for reply in turn.replies:
            self._print(render_reply(reply, self.lang))
        if turn.replies:
            self.buttons = next((_choices(r) for r in reversed(turn.replies) if _choices(r)), ())

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _say(self, what: str, /, **args: object) -> None:
        self._print(msg(what, **args).render(self.lang))

    # ----------------------------------------------------------------- commands

    def _cmd_time(self, arg: str) -> None:
        if not arg:
            self._print(clock_line(self.now, self.flows.timezone, self.lang))
            for r in sorted(self.reminders.values(), key=lambda r: r.at):
                self._say("chat.pending", what=describe(r, self.flows.timezone, self.lang))
            return
        moment = parse_clock(arg, self.now)
        if moment is None:
            self._say("chat.clock_use")
            return
        self.move_clock(moment)

    def _cmd_start(self, arg: str) -> None:
        self.send(StartEvent(payload=arg or None))

    def _cmd_flow(self, arg: str) -> None:
        if arg not in self.flows.flows:
            self._say("chat.no_flow", flow=arg, flows=", ".join(sorted(self.flows.flows)))
            return
        self.send(StartFlowEvent(flow=arg))

    def _cmd_phone(self, arg: str) -> None:
        self.send(ContactEvent(phone=arg))

    def _cmd_state(self, arg: str) -> None:
        state = self.state or DialogState()
        self._print(state.model_dump_json(by_alias=True, exclude_defaults=True))



def _cmd_help(session: ChatSession, arg: str) -> None:
    session._say("chat.help")


_COMMANDS: dict[str, Callable[[ChatSession, str], None]] = {
    "time": ChatSession._cmd_time,
    "start": ChatSession._cmd_start,
    "flow": ChatSession._cmd_flow,
    "phone": ChatSession._cmd_phone,
    "state": ChatSession._cmd_state,
    "help": _cmd_help,
}


def clock_line(now: datetime, timezone: str, lang: Lang) -> str:
    """``[time] 2026-12-23 10:00 Wed (Europe/Moscow)``, in ``lang``."""
    weekday = WEEKDAYS_SHORT[now.weekday()] if lang == "ru" else f"{now:%a}"
    return msg("chat.time", now=f"{now:%Y-%m-%d %H:%M}", weekday=weekday,
               timezone=timezone).render(lang)


def render_reply(reply: Reply, lang: Lang = DEFAULT_LANG) -> str:
    """A reply as terminal lines: the text, then its choices numbered as the bot's text
    numbers them (1. …, from 1 in each reply; links are not numbered), then its links."""
    def say(key: str, **args: object) -> str:
        return "     " + msg(key, **args).render(lang)

    lines = [msg("chat.bot", text=reply.text.replace("\n", "\n     ")).render(lang)]
    if reply.image_url:
        lines.append(say("chat.image", url=reply.image_url))
    choices = _choices(reply)
    if choices:
        lines.append("     " + "   ".join(f"{i}. {b.text}" for i, b in enumerate(choices, 1)))
    lines.extend(say("chat.link", text=b.text, url=b.url) for b in reply.buttons if b.url)
    if reply.request_phone:
        lines.append(say("chat.share_phone"))
    return "\n".join(lines)


def _choices(reply: Reply) -> tuple[Button, ...]:
    return tuple(b for b in reply.buttons if not b.url)


def describe(effect: Effect, timezone: str = "UTC", lang: Lang = DEFAULT_LANG) -> str:
    """One readable line for an effect, in ``lang``."""
    return _effect_msg(effect, timezone, lang).render(lang)


def _local(at: datetime, timezone: str) -> str:
    return f"{at.astimezone(ZoneInfo(timezone)) if at.tzinfo else at:%Y-%m-%d %H:%M}"


def _consent_msg(effect: RecordConsent) -> Msg:
    answer = msg("chat.granted" if effect.granted else "chat.refused")
    key = "chat.consent_ads" if effect.purpose == "ads" else "chat.consent"
    return msg(key, answer=answer, version=effect.text_version)


def _effect_msg(effect: Effect, timezone: str, lang: Lang) -> Msg:
    match effect:
        case ScheduleReminder():
            urgency = ladders.urgency_text(effect.critical, effect.ladder, lang)
            extra = f" {urgency}" if urgency else ""
            extra += f" {dict(effect.vars)}" if effect.vars else ""
            return msg("chat.remind", key=effect.key, at=_local(effect.at, timezone),
                       flow=effect.flow, extra=extra)
        case ReminderPassed():
            return msg("chat.reminder_passed", key=effect.key, at=_local(effect.at, timezone))
        case CancelReminder():
            return msg("chat.cancel", key=effect.key)
        case CallHttp():
            body = "" if effect.json is None else f" {effect.json}"
            return msg("chat.http", method=effect.method, url=effect.url, body=body)
        case Handoff():
            return msg("chat.handoff", reason=f": {effect.reason}" if effect.reason else "")
        case LinkChannel():
            return msg("chat.offer", target=effect.target or msg("chat.any_channel"))
        case SaveProfile():
            return msg("chat.profile", field=effect.field, value=effect.value)
        case RecordConsent():
            return _consent_msg(effect)
        case SetTags():
            return msg("chat.tags", tags=", ".join(effect.tags))
        case _:
            assert_never(effect)


def run_chat(session: ChatSession, lines: TextIO, *, prompt: bool, first: Event) -> None:
    """Send ``first``, then read lines until /quit or end of input."""
    session.send(first)
    while True:
        if prompt:
            print(msg("chat.prompt").render(session.lang), end="", file=session.out, flush=True)
        line = lines.readline()
        if not line or not session.handle(line):
            return
