"""What the bot tells the web chat about a session: the dialogue to replay and the greeting.

The web chat connector asks two things it cannot know itself: what a (re)connecting session
may see again of its customer's dialogue, and what the start flow says to a visitor who has
not written yet. Both answers are shaped here from storage and the engine. This module must
not send, save or start anything.
"""

from __future__ import annotations

from datetime import datetime

from connectors.base import Unavailable
from connectors.webchat import WebHistoryItem
from flows import engine
from flows.model import FlowSet
from flows.types import Button, Reply, StartEvent
from storage.errors import StorageError
from storage.history import HistoryEntry
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
    return [
        WebHistoryItem(direction=e.direction, text=e.text, buttons=_buttons(e))
        for e in entries if e.ts >= since  # said by either side, with text, no start marker
        and e.direction in ("in", "out") and e.text and not e.note.startswith("start")
    ]


def _buttons(entry: HistoryEntry) -> tuple[Button, ...]:
    """The buttons of a past message as the widget replays them: the real ones when the
    history kept them, else label-only buttons (empty id), which the widget sends as text."""
    return entry.keyboard or tuple(Button(id="", text=label) for label in entry.buttons)


def greeting(flows: FlowSet, now: datetime) -> tuple[Reply, ...]:
    """What the start flow says to a new web chat visitor: the engine's answer to a start
    event on no state, computed and thrown away (nothing is saved, no effect runs; the
    visitor's first message runs the start turn for real)."""
    return engine.advance(flows, None, StartEvent(), now).replies
