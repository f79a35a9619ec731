"""What the bot tells the web chat about a session: the dialogue to replay, the greeting,
whether the bot answers now, when its turns are over.

The web chat connector asks four things it cannot know itself: what a (re)connecting
session may see again of its customer's dialogue (and the input its open question wants),
what the start flow says to a visitor who has not written yet, whether the bot keeps quiet
while a person has the dialogue, and when no turn of the session runs any more (its typing
indicator ends then, replied or not). The answers are shaped here from storage and the engine.
This module must not send, save or start anything.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from connectors.attachments import with_file_link
from connectors.base import Unavailable
from connectors.webchat import WebHistoryItem
from connectors.webchat.server import WEB_CAPABILITIES
from flows import engine
from flows.model import FlowSet
from flows.types import Button, DialogState, HandoffStage, Reply, StartEvent
from storage.errors import CodecError, StorageError
from storage.history import OPERATOR_NOTE, HistoryEntry
from storage.store import Store

if TYPE_CHECKING:
    from bots.runtime import Runtime

WEB_HISTORY = 100  # the most messages a (re)connecting web chat is shown
# Hand-off stages in which the bot says nothing to the customer's messages ("unheard" answers
# that nobody will).
QUIET: frozenset[HandoffStage] = frozenset({"waiting", "taken"})


async def history(
    store: Store, session_id: str, flows: FlowSet | None = None
) -> list[WebHistoryItem] | None:
    """The customer's dialogue (every channel) for a web chat session, from the time the
    session may see it (a session joined by a link sees nothing of before: bots.linking);
    None when the session has no customer (its visitor never wrote). With ``flows``, the last
    bot message says whether its phone question is still open (the widget's input row)."""
    try:
        customer = await store.identities.customer_of(f"web:{session_id}")
        if customer is None:
            return None
        since = await store.identities.visible_from(customer, f"web:{session_id}")
        entries = await store.history.read(customer, count=WEB_HISTORY)
        kind = None if flows is None else open_input(flows, await _state(store, customer))
    except StorageError as exc:
        raise Unavailable("history unavailable") from exc
    items = replay([e for e in entries if e.ts >= since])
    return asking_phone(items) if kind == "phone" else items


async def _state(store: Store, customer: str) -> DialogState | None:
    try:
        state, _version = await store.states.load(customer)
    except CodecError:  # an unreadable state: its turn will say so; the replay goes on
        return None
    return state


def open_input(flows: FlowSet, state: DialogState | None) -> str | None:
    """The input type of the question the dialogue waits on; None when no question is open,
    an HTTP call is awaited or the dialogue is with a person (a hand-off)."""
    if state is None or not state.stack or state.waiting or state.handoff is not None:
        return None
    frame = state.stack[-1]
    flow = flows.flows.get(frame.flow)
    step = flow.steps.get(frame.step) if flow is not None else None
    question = step.question if step is not None else None
    return question.kind if question is not None else None


def asking_phone(items: list[WebHistoryItem]) -> list[WebHistoryItem]:
    """``items`` with the last bot message marked as asking for the phone."""
    last = next((i for i in range(len(items) - 1, -1, -1) if items[i].direction == "out"), None)
    if last is None:
        return items
    marked = replace(items[last], request_phone=True)
    return [*items[:last], marked, *items[last + 1:]]


def replay(entries: list[HistoryEntry]) -> list[WebHistoryItem]:
    """The messages either side said (with text, no start marker) as the widget shows them:
    a pressed button by its label (an entry stored with only the id gets the label of the
    keyboard it came from), an operator's message with the operator's name."""
    items: list[WebHistoryItem] = []
    keyboard: tuple[Button, ...] = ()
    for e in map(_linked, entries):
        if e.direction not in ("in", "out") or not e.text or e.note.startswith("start"):
            continue
        if e.direction == "out":
            keyboard = e.keyboard
            items.append(WebHistoryItem("out", e.text, _buttons(e), e.ts, operator_of(e)))
        else:
            items.append(WebHistoryItem("in", _label(e, keyboard), at=e.ts))
    return items


def _linked(entry: HistoryEntry) -> HistoryEntry:
    """An operator's file as the widget got it: a link button (its signed link), with the
    caption or the file's name as text."""
    file = next((a for a in entry.attachments if a.url), None)
    if entry.direction != "out" or file is None:
        return entry
    shown = with_file_link(Reply(entry.text, file=file), max_label=WEB_CAPABILITIES.max_label)
    return replace(entry, text=shown.text, keyboard=(*_buttons(entry), *shown.buttons),
                   buttons=())


def operator_of(entry: HistoryEntry) -> str | None:
    """The operator who wrote an outgoing entry (its note ``operator: <name>``), else None."""
    if entry.direction != "out" or not entry.note.startswith(OPERATOR_NOTE):
        return None
    return entry.note.removeprefix(OPERATOR_NOTE).strip() or None


def _buttons(entry: HistoryEntry) -> tuple[Button, ...]:
    """The buttons of a past message as the widget replays them: the real ones when the
    history kept them, else label-only buttons (empty id), which the widget sends as text."""
    return entry.keyboard or tuple(Button(id="", text=label) for label in entry.buttons)


def _label(entry: HistoryEntry, keyboard: tuple[Button, ...]) -> str:
    pressed = entry.note.removeprefix("button ") if entry.note.startswith("button ") else None
    if pressed is None or entry.text != pressed:
        return entry.text
    return next((b.text for b in keyboard if b.id == pressed and b.text), entry.text)


async def quiet(store: Store, session_id: str) -> bool:
    """The bot will not answer this web chat session's next message: its dialogue is handed
    to a person (an operator holds it, or one is awaited; a global command does bring the bot
    back, and its answer then comes with no typing shown before it)."""
    try:
        customer = await _customer(store, session_id)
        state = None if customer is None else await _state(store, customer)
    except StorageError as exc:
        raise Unavailable("state unavailable") from exc
    return state is not None and state.handoff in QUIET


async def settled(store: Store, runtime: Runtime, session_id: str) -> None:
    """Returns once no turn of the web chat session's customer runs in this process (its
    drain waits for the lock when another process has the customer: until that one is done
    too); at once for a session with no customer yet."""
    try:
        customer = await _customer(store, session_id)
    except StorageError as exc:
        raise Unavailable("identity unavailable") from exc
    if customer is not None:
        await runtime.settled(customer)


async def _customer(store: Store, session_id: str) -> str | None:
    """The session's customer: as this process's intake last knew it (a web chat socket
    lives on one process, which accepted the session's earlier messages), else read. Asked
    for every message by ``quiet`` and ``settled``: a read each was two round trips."""
    account = f"web:{session_id}"
    return store.intake.known(account) or await store.identities.customer_of(account)


def greeting(flows: FlowSet, now: datetime) -> tuple[Reply, ...]:
    """What the start flow says to a new web chat visitor: the engine's answer to a start
    event on no state, computed and thrown away (nothing is saved, no effect runs; the
    visitor's first message runs the start turn for real)."""
    return engine.advance(flows, None, StartEvent(), now).replies
