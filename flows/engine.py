"""``advance``: one event in, the next dialogue state, replies and effects out.

Owns the dispatch of each event kind and the rules that keep a customer from ever being
stuck: global commands (cancel, menu, help, restart, unsubscribe) work in every step and in a
hand-off no operator has taken, input no step or trigger understands gets the fallback reply and the
menu, a stored state that points at a flow, step or variable that no longer exists gets a
polite message and the menu, and so does a chain of calls an executor stopped (``give_up``).

Pure and deterministic: no clock (``now`` is given), no randomness, no I/O; it never raises
for any customer input. The step machine itself is ``flows.steps``.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from flows import answers, templates
from flows.inputs import FILE_KINDS
from flows.model import Entry, FlowSet, Question
from flows.schema import COMMAND_NAMES
from flows.steps import Looping, Lost, Run, after
from flows.types import (
    UNSUBSCRIBED_VERSION,
    AttachmentEvent,
    ButtonEvent,
    CallResultEvent,
    ContactEvent,
    DialogState,
    Event,
    HandoffUnheardEvent,
    PermissionEvent,
    RecordConsent,
    Reply,
    ResumeEvent,
    StartEvent,
    StartFlowEvent,
    TextEvent,
    TimerEvent,
    Turn,
)
from flows.words import contains_phrase, normalize

_CUSTOMER = (TextEvent, ButtonEvent, StartEvent, ContactEvent, AttachmentEvent, ResumeEvent)
_FAILURES = (Lost, Looping, templates.TemplateRenderError, RecursionError)


def advance(flows: FlowSet, state: DialogState | None, event: Event, now: datetime) -> Turn:
    """The dialogue's answer to ``event`` at ``now`` (tz-aware). Pure; never raises."""
    state = state or DialogState()
    if isinstance(event, PermissionEvent) or (
        state.handoff == "taken" and isinstance(event, _CUSTOMER)
    ):
        return Turn(state=state)  # (an operator answers the customer, not the bot)
    run = Run.begin(flows, state, now)
    try:
        _dispatch(run, event)
    except templates.TemplateRenderError as exc:
        return _template_failed(run, state, event, exc)
    except _FAILURES:
        run = _recover(flows, state, now)
    return Turn(state=run.state(), replies=tuple(run.replies), effects=tuple(run.effects),
                resumed=run.resumed, happened=tuple(run.happened))


def _template_failed(
    run: Run, state: DialogState, event: Event, exc: templates.TemplateRenderError
) -> Turn:
    """A template of the owner's failed to render (a name nothing defined, a filter that
    refused its value): never silently. The dialogue stays where it was (the customer may try
    again once the owner fixed it), a customer who wrote hears a neutral apology, and the turn
    says where it failed, for the runtime's error log and metric."""
    where = "the flows"
    with contextlib.suppress(Lost):
        if run.stack:
            flow, step = run.top()
            where = f"{flow.file}:{step.line} (flow '{flow.name}', step '{step.name}')"
    if not _stack_is_valid(Run.begin(run.flows, state, run.now)):
        state = state.model_copy(update={"stack": (), "waiting": None})  # (as _check_stack)
    replies = (Reply(run.flows.texts.failed),) if isinstance(event, _CUSTOMER) else ()
    return Turn(state=state, replies=replies, failure=f"template error in {where}: {exc}")


def give_up(flows: FlowSet, state: DialogState | None, now: datetime) -> Turn:
    """The executor stopped a chain of calls (``flows.chain``): apologise and show the menu,
    asking for no call (a menu that calls out right away gets the apology alone). Pure."""
    run = _recover(flows, state or DialogState(), now, flows.texts.stopped)
    if run.waiting:
        run.clear()
        del run.replies[1:]
        run.effects.clear()
    return Turn(state=run.state(), replies=tuple(run.replies), effects=tuple(run.effects),
                happened=tuple(run.happened))


def _recover(flows: FlowSet, state: DialogState, now: datetime, text: str | None = None) -> Run:
    """Something in the stored state or the flows is gone: apologise and show the menu."""
    run = Run.begin(flows, state.model_copy(update={"stack": (), "waiting": None}), now)
    run.replies.append(Reply(text or flows.texts.lost))
    try:
        run.menu()
    except _FAILURES:
        run.clear()
        del run.replies[1:]
        run.effects.clear()
    return run


def _check_stack(run: Run, event: Event) -> None:
    """A stored position that no longer exists: forgotten by the events that start afresh."""
    if not _stack_is_valid(run):
        if isinstance(event, StartEvent | TimerEvent | StartFlowEvent | CallResultEvent):
            run.clear()
        else:
            raise Lost("stored position")


def _stack_is_valid(run: Run) -> bool:
    """Every frame names a flow and step that exist (a call no step makes any more is no
    longer waited for)."""
    for frame in run.stack:
        flow = run.flows.flows.get(frame.flow)
        if flow is None or frame.step not in flow.steps:
            return False
    if run.waiting and (not run.stack or run.top()[1].http is None):
        run.waiting = None  # waiting for a call no step makes any more
    return True


def _reask(run: Run) -> None:
    q = run.question()
    if q is not None:
        run.ask(q)


def _dispatch(run: Run, event: Event) -> None:
    _check_stack(run, event)
    if run.handoff and isinstance(event, _CUSTOMER):
        _handed_off(run, event)
    elif isinstance(event, HandoffUnheardEvent):
        _on_unheard(run)
    elif isinstance(event, StartEvent):
        _on_start(run, event)
    elif isinstance(event, TimerEvent | StartFlowEvent):
        _on_flow(run, event.flow, dict(event.vars))
    elif isinstance(event, CallResultEvent):
        _on_result(run, event)
    elif isinstance(event, ResumeEvent):
        _reask(run)
    elif isinstance(event, ButtonEvent):
        _on_input(run, event.text, event.button)
    elif isinstance(event, ContactEvent | AttachmentEvent):
        _on_shared(run, event)
    elif isinstance(event, TextEvent):
        _on_input(run, event.text, None)


def _handed_off(run: Run, event: Event) -> None:
    """The customer writes during a hand-off no operator has taken: a global command or the
    platform's start brings the bot back; anything else waits for the operator, and hears
    that nobody will answer when no operator could be told."""
    if isinstance(event, StartEvent):
        run.handoff = None
        _on_start(run, event)
        return
    command = _command_in(run.flows, event)
    if command is not None and command != "help":  # cancel, menu, restart
        run.handoff = None
        _command(run, command)
        return
    if command == "help":
        run.replies.append(Reply(run.flows.texts.help))
    if run.handoff == "unheard":
        run.replies.append(Reply(run.flows.texts.handoff_unheard))


def _command_in(flows: FlowSet, event: Event) -> str | None:
    if isinstance(event, TextEvent):
        return _command_of(flows, normalize(event.text), None)
    if isinstance(event, ButtonEvent):
        return _command_of(flows, normalize(event.text), event.button)
    return None


def _on_unheard(run: Run) -> None:
    """Nobody was told of the hand-off just made: say so, and how to go back to the bot."""
    if run.handoff == "waiting":  # (not when the customer already went back)
        run.handoff = "unheard"
        run.replies.append(Reply(run.flows.texts.handoff_unheard))


def _on_start(run: Run, event: StartEvent) -> None:
    entry = run.flows.payloads.get(event.payload or "") or run.flows.on_start
    if entry is None:
        run.replies.append(Reply(run.flows.texts.fallback))
        return
    run.start(entry)


def _on_flow(run: Run, flow: str, variables: dict[str, object]) -> None:
    """A reminder or the business starts ``flow``; an open question is resumed after it."""
    if flow not in run.flows.flows:
        return
    # Keep an open question of another flow to come back to; the same flow starts afresh
    # (a second reminder replaces an unanswered first one).
    if run.stack and run.stack[-1].flow == flow and not run.waiting:
        run.stack.pop()
    push = run.question() is not None
    run.start(Entry(flow), push=push, variables=variables)  # type: ignore[arg-type]
    if run.stack and run.handoff != "taken":
        run.handoff = None  # the bot asks again: the customer's answer must reach it


def _on_result(run: Run, event: CallResultEvent) -> None:
    if not run.stack or run.waiting != event.call_id:
        return  # a stale or unknown answer: nothing to do
    run.waiting = None
    flow, step = run.top()
    http = step.http
    if http is None:
        raise Lost("call step")
    if event.ok:
        if http.save:
            run.vars[http.save] = event.data
        target = after(flow, step, None, run.context)
    elif http.on_error:
        target = http.on_error
    else:
        run.replies.append(Reply(run.flows.texts.call_failed))
        target = None
    if run.move(target) == "end" and run.back():
        return
    run.go()


def _on_contact(run: Run, event: ContactEvent) -> None:
    """A shared phone answers a phone question; anywhere else it is not an answer."""
    q = run.question()
    if q is not None and q.kind == "phone":
        _on_input(run, event.phone, None)
    elif q is not None and not run.waiting:
        answers.retry(run, q, None)
    else:
        _on_input(run, "", None)


def _on_shared(run: Run, event: ContactEvent | AttachmentEvent) -> None:
    """Something the customer shared rather than typed: a contact card or files."""
    if isinstance(event, ContactEvent):
        _on_contact(run, event)
    else:
        _on_files(run, event)


def _on_files(run: Run, event: AttachmentEvent) -> None:
    """Files answer a photo or file question; anywhere else their caption is read as text."""
    q = run.question()
    if q is None or q.kind not in FILE_KINDS or run.waiting:
        _on_input(run, event.text, None)
        return
    problem = answers.answer(run, q, event.text, None, event.attachments)
    if problem is not None:
        answers.retry(run, q, problem)


def _on_input(run: Run, text: str, button: str | None) -> None:
    """Text, a button or a shared contact: a command, an answer, a trigger, or the fallback."""
    said = normalize(text)
    q = run.question()
    command = _command_of(run.flows, said, button)
    if command is not None and not (q is not None and _is_option(run, q, said)):
        _command(run, command)
        return
    if run.waiting:
        run.replies.append(Reply(run.flows.texts.waiting))
        return
    if q is None:
        if not _trigger(run, said, button):
            _fallback(run)
        return
    problem = answers.answer(run, q, text, button)
    # With a question open, a trigger fires only on its exact phrase (or its button):
    # «отменить запись» at the date question must not restart booking for «запись».
    if problem is not None and not _trigger(run, said, button, exact=True):
        answers.retry(run, q, problem)


def _is_option(run: Run, q: Question, said: str) -> bool:
    """The customer typed a button's own words («Отменить» on a button "Отменить")."""
    return q.kind == "choice" and any(
        said in (normalize(o.text), normalize(o.id), *map(normalize, o.also))
        for o in run.options(q)
    )


def _command_of(flows: FlowSet, said: str, button: str | None) -> str | None:
    """A global command: typed words, or a button with the id ``cmd:<name>``.

    A button's own id or label never counts as a command word: a choice may well have a
    button "cancel" or «Отмена» that means an answer to its question.
    """
    if button is not None:
        name = button.removeprefix("cmd:")
        return name if button.startswith("cmd:") and name in COMMAND_NAMES else None
    return flows.commands.get(said)


def _trigger(run: Run, said: str, button: str | None, *, exact: bool = False) -> bool:
    entry = run.flows.buttons.get(button) if button else None
    if entry is None and said:
        entry = next((e for phrase, e in run.flows.keywords
                      if (said == phrase if exact else contains_phrase(said, phrase))), None)
    if entry is None:
        return False
    run.start(entry)
    return True


def _fallback(run: Run) -> None:
    run.replies.append(Reply(run.flows.texts.fallback))
    run.menu()


def _command(run: Run, command: str) -> None:
    flows = run.flows
    if command == "help":
        run.replies.append(Reply(flows.texts.help))
        if run.question() is not None:
            _reask(run)
        else:
            run.menu()
        return
    run.clear()
    if command == "unsubscribe":  # the words «стоп», «отписаться» or the «Отписаться» button
        run.effects.append(RecordConsent(granted=False, text_version=UNSUBSCRIBED_VERSION,
                                         at=run.now, purpose="ads"))
        run.replies.append(Reply(flows.texts.unsubscribed))
    elif command == "cancel":
        run.replies.append(Reply(flows.texts.cancelled))
        run.menu()
    elif command == "restart" and flows.on_start is not None:
        run.start(flows.on_start)
    else:
        run.menu()
