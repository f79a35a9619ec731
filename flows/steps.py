"""Running steps within one turn: the mutable scratchpad behind the pure ``advance``.

Owns ``Run``: the working copy of a dialogue during one event (flow stack, variables,
replies and effects gathered so far) and the step machine — execute a step, follow
``next``, call and return from sub-flows, ask, stop. A ``Run`` lives only inside one call
of ``flows.engine.advance``; nothing here reads a clock, draws random numbers or does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from flows import graph, slots
from flows.effects import call_id, http_call, schedule, zone
from flows.inputs import Option
from flows.model import ByValue, CompiledFlow, CompiledStep, Entry, FlowSet, Goto, Question, Rules
from flows.types import (
    JSON,
    Button,
    CancelReminder,
    DialogState,
    Effect,
    Frame,
    Handoff,
    HandoffStage,
    Happened,
    LinkChannel,
    ReminderPassed,
    Reply,
    SetTags,
)

_BLANK = DialogState()
MAX_HOPS = 60
MAX_DEPTH = 6
Outcome = Literal["wait", "end", "stop"]


def frame(flow: str, step: str, retries: int = 0, asked: int = 0) -> Frame:
    """A stack entry (validated construction is the fastest way pydantic offers)."""
    return Frame(f=flow, s=step, r=retries, t=asked)


class Lost(Exception):
    """The stored state or a template points at something that no longer exists."""


class Looping(Exception):
    """A turn ran too many steps without a question (a loop in the flows)."""


@dataclass(slots=True)
class Run:
    flows: FlowSet
    now: datetime
    stack: list[Frame]
    vars: dict[str, JSON]
    waiting: str | None = None
    consent: bool | None = None
    handoff: HandoffStage | None = None
    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    hops: int = 0
    resumed: int | None = None  # replies from here on re-ask a question a reminder interrupted
    clock: dict[str, JSON] = field(default_factory=dict)
    env: dict[str, JSON] = field(default_factory=dict)
    happened: list[Happened] = field(default_factory=list)  # for the funnel (flows.funnel)
    stamp: int = 0  # ``now`` in epoch seconds: when a question is asked (``Frame.asked``)

    @classmethod
    def begin(cls, flows: FlowSet, state: DialogState, now: datetime) -> Run:
        local = now.astimezone(zone(flows.timezone))
        clock: dict[str, JSON] = {
            "today": local.date().isoformat(),
            "now": local.isoformat(timespec="minutes")[:16],
        }
        return cls(
            flows=flows,
            now=local,
            stack=list(state.stack),
            vars=dict(state.vars),
            waiting=state.waiting,
            consent=state.consent,
            handoff=state.handoff,
            clock=clock,
            env=dict(flows.env),
            stamp=int(now.timestamp()),
        )

    def state(self) -> DialogState:
        # model_copy of a blank state is the cheapest construction pydantic offers; every
        # value here was built by this module from valid parts.
        return _BLANK.model_copy(
            update={
                "stack": tuple(self.stack),
                "vars": self.vars,
                "waiting": self.waiting,
                "consent": self.consent,
                "handoff": self.handoff,
            }
        )

    # ----------------------------------------------------------------- lookups

    def context(self, **extra: JSON) -> dict[str, JSON]:
        """Variables for templates: the bot's ``vars:``, the dialogue's, plus today, now, env,
        consent (and value)."""
        ctx: dict[str, JSON] = {**self.flows.constants, **self.vars}
        ctx.update(self.clock)
        ctx["env"] = self.env
        ctx["consent"] = self.consent
        ctx.update(extra)
        return ctx

    def top(self) -> tuple[CompiledFlow, CompiledStep]:
        frame = self.stack[-1]
        flow = self.flows.flows.get(frame.flow)
        step = flow.steps.get(frame.step) if flow else None
        if flow is None or step is None:
            raise Lost(f"{frame.flow}/{frame.step}")
        return flow, step

    def question(self) -> Question | None:
        if not self.stack or self.waiting:
            return None
        return self.top()[1].question

    # ----------------------------------------------------------------- starting

    def clear(self) -> None:
        self.stack.clear()
        self.waiting = None

    def start(
        self, entry: Entry, *, push: bool = False, variables: dict[str, JSON] | None = None
    ) -> None:
        flow = self.flows.flows[entry.flow]
        for name, value in flow.defaults.items():
            self.vars.setdefault(name, value)
        self.vars.update(variables or {})
        if not push:
            self.clear()
        del self.stack[: max(0, len(self.stack) - MAX_DEPTH + 1)]
        self.happened.append(Happened("started", flow.name))
        self.stack.append(frame(flow.name, entry.step or flow.start))
        self.go()

    def menu(self) -> None:
        if self.flows.menu is not None:
            self.start(Entry(self.flows.menu))

    # ----------------------------------------------------------------- the step machine

    def go(self) -> None:
        """Execute steps from the top frame until a question, a call, or the stack empties."""
        while self.stack:
            self.hops += 1
            if self.hops > MAX_HOPS:
                raise Looping()
            flow, step = self.top()
            outcome = self.execute(flow, step)
            if outcome == "wait" or outcome == "stop":
                return
            if outcome == "end" and self.back():
                return

    def move(self, target: str | None) -> Outcome | None:
        """Point the top frame at ``target`` (None: the flow ends)."""
        if target is None:
            return "end"
        self.stack[-1] = frame(self.stack[-1].flow, target)
        return None

    def back(self) -> bool:
        """Pop a finished flow; resume the caller. True when the turn should stop here."""
        self.happened.append(Happened("finished", self.stack.pop().flow))
        while self.stack:
            flow, step = self.top()
            if step.call is not None:
                if self.move(after(flow, step, None, self.context)) is None:
                    return False
                self.happened.append(Happened("finished", self.stack.pop().flow))
                continue
            if step.question is not None:
                self.resumed = len(self.replies)
                # a reminder interrupted this question (its list of times may be empty now)
                return pose(self, step.question) is not None
            return True
        return True

    def execute(self, flow: CompiledFlow, step: CompiledStep) -> Outcome | None:
        self.happened.append(Happened("entered", flow.name, step.name))
        passed = self.prelude(step)
        if passed is not None:
            return self.move(passed)  # a reminder's time has passed: its ``if_past`` step
        if step.handoff is not None:
            self.happened.append(Happened("handed_off", flow.name, step.name))
            self.effects.append(Handoff(step.handoff.render(self.context())))
            self.handoff = "waiting"  # until the runtime says nobody heard, or an operator takes it
            self.clear()
            return "stop"
        if step.http is not None:
            ctx = self.context()
            self.waiting = call_id(flow.name, step.name, self.vars, len(self.stack))
            self.effects.append(http_call(step.http, ctx, self.waiting))
            return "wait"
        if step.call is not None:
            callee = self.flows.flows.get(step.call)
            if callee is None:
                raise Lost(step.call)
            for name, value in callee.defaults.items():
                self.vars.setdefault(name, value)
            self.happened.append(Happened("started", callee.name))
            self.stack.append(frame(callee.name, callee.start))
            return None
        if step.question is not None:
            self.stack[-1] = frame(flow.name, step.name, 0, self.stamp)  # asked now
            return pose(self, step.question)
        if step.end:
            return "end"
        return self.move(after(flow, step, None, self.context))

    def prelude(self, step: CompiledStep) -> str | None:
        """Variables, reminders, link offers and the message of a step, in that order; the
        ``if_past`` step of the first reminder whose time had passed (the rest of this step,
        later reminders included, is then not run)."""
        if step.set:
            ctx = self.context()
            for name, value in step.set:
                self.vars[name] = value.evaluate(ctx)
        ctx = self.context()
        if step.tags:
            self.effects.append(SetTags(step.tags))
        self.effects.extend(CancelReminder(key.render(ctx)) for key in step.cancel)
        notes: list[str] = []
        for reminder in step.remind:
            effect = schedule(reminder, ctx, self.now, zone(self.flows.timezone), self.vars)
            if effect is not None:
                self.effects.append(effect)
            if isinstance(effect, ReminderPassed):
                if reminder.if_past is not None:
                    return reminder.if_past  # (its step schedules what still can be)
                if reminder.past_text is not None:
                    notes.append(reminder.past_text.render(ctx))
        show(self, step, ctx)
        self.replies.extend(Reply(note) for note in notes)
        return None

    # ----------------------------------------------------------------- questions

    def options(self, q: Question) -> tuple[Option, ...]:
        if q.options_from is None:
            found = q.options if self.flows.can_link else _linkable(*self.top(), q.options)
        else:
            raw = q.options_from.evaluate(self.context())
            found = tuple(
                _option(item)
                for item in (raw if isinstance(raw, list) else [])
                if item not in (None, "")
            )
        if q.shown_if:
            ctx = self.context()
            hidden = {ident for ident, cond in q.shown_if if not cond.evaluate(ctx)}
            found = tuple(o for o in found if o.id not in hidden)
        if q.for_day is not None:
            found = slots.open_times(found, question_day(self, q), self.now, self.flows.working)
        return found[:30]

    def ask(
        self, q: Question, text: str | None = None, options: tuple[Option, ...] | None = None
    ) -> None:
        """Put the question (or ``text`` with the question's buttons) to the customer
        (``options``: the buttons when already worked out)."""
        ctx = self.context()
        buttons: tuple[Button, ...] = ()
        if q.kind == "choice":
            offered = self.options(q) if options is None else options
            buttons = tuple(Button(id=o.id, text=o.text) for o in offered)
        elif q.kind == "yesno":
            buttons = (Button("yes", self.flows.texts.yes), Button("no", self.flows.texts.no))
        if q.consent is not None:
            buttons += (Button("policy", q.consent.policy_text, q.consent.policy.render(ctx)),)
        self.replies.append(
            Reply(
                text=text if text is not None else q.prompt.render(ctx),
                buttons=buttons,
                request_phone=q.kind == "phone",
            )
        )


def show(run: Run, step: CompiledStep, ctx: dict[str, JSON]) -> None:
    """A step's channel offer and message."""
    if step.link_channel is not None:
        target = None if step.link_channel == "any" else step.link_channel
        run.effects.append(LinkChannel(target))
    if step.say is not None or step.image is not None:
        links = tuple(
            Button(id=f"link{i}", text=t.render(ctx), url=u.render(ctx))
            for i, (t, u) in enumerate(step.links)
        )
        run.replies.append(
            Reply(
                text=step.say.render(ctx) if step.say else "",
                buttons=links,
                image_url=step.image.render(ctx) if step.image else None,
                markdown=step.markdown,
            )
        )



def question_day(run: Run, q: Question) -> date | None:
    """The day of a question's times (``for_day``), None when it names no date."""
    if q.for_day is None:
        return None
    return slots.as_date(q.for_day.evaluate(run.context()))



def pose(run: Run, q: Question, text: str | None = None) -> Outcome | None:
    """Ask ``q``; a list with nothing left to offer (``choice_from``, ``for_day``) goes
    to ``when_empty`` (or ``on_fail``; without either: an apology and the menu)."""
    listed = q.options_from is not None or q.for_day is not None
    options = run.options(q) if q.kind == "choice" and listed else None
    if options == ():
        here = run.stack[-1]
        if run.happened and run.happened[-1] == Happened("entered", here.flow, here.step):
            run.happened.pop()  # never asked: not a question the customer could leave
        target = q.when_empty or q.on_fail
        if target is not None:
            run.stack[-1] = frame(run.stack[-1].flow, target)
            return None
        run.replies.append(Reply(run.flows.texts.nothing_to_choose))
        run.clear()
        run.menu()
        return "stop"
    run.ask(q, text, options)
    return "wait"



def after(
    flow: CompiledFlow, step: CompiledStep, answer: JSON, context: Callable[..., dict[str, JSON]]
) -> str | None:
    """Where a step goes: its 'next', else the step written after it, else the end
    (``context`` gives the templates' variables, only asked for when a rule needs them)."""
    nxt = step.next
    if isinstance(nxt, Goto):
        return nxt.target
    if isinstance(nxt, ByValue):
        found = nxt.cases.get(answer_key(answer)) or nxt.default
        if found:
            return found
    elif isinstance(nxt, Rules):
        ctx = context(value=answer)
        for cond, target in nxt.rules:
            if cond is None or cond.evaluate(ctx):
                return target
    if step.end:
        return None
    return graph.following(flow, step.name)


def _linkable(
    flow: CompiledFlow, step: CompiledStep, options: tuple[Option, ...]
) -> tuple[Option, ...]:
    """``options`` without those leading straight to a ``link_channel`` step: with no
    other channel to offer, «continue in another messenger» would promise what it cannot."""
    if not isinstance(step.next, ByValue) or step.question is None:
        return options
    dead = {case for case, target in step.next.cases.items()
            if (reached := flow.steps.get(target)) is not None
            and reached.link_channel is not None}
    return tuple(o for o in options if o.id not in dead) if dead else options


def answer_key(answer: JSON) -> str:
    if answer is True:
        return "yes"
    if answer is False:
        return "no"
    return "" if answer is None else str(answer)


def _option(item: JSON) -> Option:
    if isinstance(item, dict):
        ident = str(item.get("id", item.get("text", "")))
        return Option(id=ident[:64], text=str(item.get("text", ident)))
    return Option(id=str(item)[:64], text=str(item))
