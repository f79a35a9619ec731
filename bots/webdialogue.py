"""What the bot tells the web chat about a session: the dialogue to replay and the greeting.

The web chat connector asks two things it cannot know itself: what a (re)connecting session
may see again of its customer's dialogue, and what the start flow says to a visitor who has
not written yet. Both answers are shaped here from storage and the engine. This module must
not send, save or start anything.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from connectors.attachments import with_file_link
from connectors.base import Unavailable
from connectors.webchat import WebHistoryItem
from connectors.webchat.server import WEB_CAPABILITIES
from flows import engine
from flows.model import FlowSet
from flows.types import Button, Reply, StartEvent
from storage.errors import StorageError
from storage.history import OPERATOR_NOTE, HistoryEntry
from storage.store import Store

WEB_HISTORY = 100  # the most messages a (re)connecting web chat is shown


async def history(store: Store, session_id: str) -> list[WebHistoryItem] | None:
    """The customer's dialogue (every channel) for a web chat session, from the time the
    session may see it (a session joined by a link sees nothing of before: bots.linking);
    None when the session has no customer (its visitor never wrote)."""
    try:
        customer = await store.identities.customer_of(f"web:{session_id}")
        if customer is None:
            return None
        since = await store.identities.visible_from(customer, f"web:{session_id}")
        entries = await store.history.read(customer, count=WEB_HISTORY)
    except StorageError as exc:
        raise Unavailable("history unavailable") from exc
    return replay([e for e in entries if e.ts >= since])


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


def greeting(flows: FlowSet, now: datetime) -> tuple[Reply, ...]:
    """What the start flow says to a new web chat visitor: the engine's answer to a start
    event on no state, computed and thrown away (nothing is saved, no effect runs; the
    visitor's first message runs the start turn for real)."""
    return engine.advance(flows, None, StartEvent(), now).replies
