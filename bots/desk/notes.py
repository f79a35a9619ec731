"""The desk's side of the owner's hand-off notes (``bots.owner``): a hand-off is recorded as
waiting and numbered, the note to the owner's MAX chat or VK peer carries the customer's
name and last messages, and the note's platform message id is kept, so the owner's reply to
it answers that customer (``bots.desk.relay``).

This module must not send anything (``bots.owner`` sends the note) nor decide what an
answer does (``bots.desk.relay``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable

from bots.owner import Heard, OwnerNote
from bots.texts import OWNER_NOTE_LAST, OWNER_NOTE_NAME, OWNER_NOTE_SAID
from flows.types import Channel
from storage.errors import StorageError
from storage.history import HistoryEntry
from storage.store import Store

LAST_SHOWN = 5  # messages of the customer's history in the note
SHOWN_CHARS = 200  # of each


NAME_WAIT = 1.0  # seconds a note waits for a platform's name still being looked up


class DeskNotes:
    def __init__(self, store: Store, *,
                 names: Callable[[str, float], Awaitable[None]] | None = None) -> None:
        self._store = store
        # The platform's names under way (``bots.naming.Namer.settled``): a VK customer whose
        # first message asks for a person is named in the note once VK has answered.
        self._names = names

    async def heard(self, note: OwnerNote) -> Heard:
        """Record the hand-off and number it; heard when at least one operator can log in.
        Not heard, number 0, when storage fails."""
        if note.kind != "handoff":
            return Heard(False, 0)
        store = self._store
        try:
            await store.desk.handoffs.began(note.customer, time.time())
            number = await store.desk.handoffs.short_number(note.customer)
            operators = any(not op.disabled for op in await store.desk.operators.all())
            profile = await store.profiles.get(note.customer)
            if profile.name is None and self._names is not None:
                await self._names(note.customer, NAME_WAIT)
                profile = await store.profiles.get(note.customer)
            entries = await store.history.read(note.customer, count=LAST_SHOWN * 2)
        except StorageError:
            return Heard(False, 0)
        return Heard(operators, number, about(profile.name, entries))

    async def noted(self, number: int, channel: Channel, message_id: str) -> None:
        """The note of hand-off ``number`` is ``message_id`` in the owner's ``channel`` chat."""
        with contextlib.suppress(StorageError):  # the owner can still answer with the number
            await self._store.desk.handoffs.noted(channel, message_id, number)


def about(name: str | None, entries: list[HistoryEntry]) -> str:
    """The note's lines about the customer: the name, then the last messages."""
    said = [e for e in entries if e.direction in ("in", "out") and e.text][-LAST_SHOWN:]
    lines = [OWNER_NOTE_NAME.format(name=name)] if name else []
    if said:
        lines.append(OWNER_NOTE_LAST)
        lines += [OWNER_NOTE_SAID[e.direction].format(text=_short(e.text)) for e in said]
    return "\n".join(lines)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SHOWN_CHARS else flat[:SHOWN_CHARS - 1] + "…"
