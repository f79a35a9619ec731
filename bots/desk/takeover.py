"""Taking a conversation over from the bot, answering as a person, handing it back.

``claim`` gives a conversation to one operator (``storage.desk.Handoffs.claim``: a key set
only if absent, so two operators can never both hold it) and puts the dialogue in the
``taken`` hand-off stage under the customer's lock, so the bot stays quiet. ``say`` sends the
operator's text through ``bots.delivery`` (a ``Send`` of why "operator": outbox first, to the
most recently active account, failing over to the others, in the live lane), marked with the
operator's name. ``release`` is ``Runtime.release`` plus the claim dropped, and may start a
flow; ``release_unclaimed`` does it for hand-offs nobody took within a day. ``heard`` is the
owner-notification hook: a hand-off is heard when the desk has an operator, and numbered.
This module must not render pages or check who may do what (``bots.desk.gate``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from bots.delivery import Delivered, Send
from bots.owner import OwnerNote
from bots.parts import Edge
from bots.texts import DESK_UNCLAIMED
from flows.types import DialogState, Reply, StartFlowEvent
from storage.errors import StorageError
from storage.history import OPERATOR_NOTE, HistoryEntry
from storage.store import Store

log = logging.getLogger("svyaz.desk")

CLAIMED = "claimed by "  # a history note: the operator took the conversation
UNCLAIMED_AFTER = 24 * 3600.0  # seconds an unclaimed hand-off waits before the bot is back
SWEEP_EVERY = 60.0  # seconds between looks for hand-offs nobody claimed


class NotHolder(Exception):
    """The conversation is held by another operator (``holder``) or by nobody (None)."""

    def __init__(self, holder: str | None) -> None:
        super().__init__(holder or "nobody")
        self.holder = holder


def operator_of(note: str) -> str | None:
    """The operator who wrote a history entry, from its note (None: not an operator's)."""
    return note[len(OPERATOR_NOTE):].strip() or None if note.startswith(OPERATOR_NOTE) else None


class Takeover:
    def __init__(self, edge: Edge) -> None:
        self._edge = edge

    async def claim(self, customer: str, operator: str) -> str:
        """Take the conversation for ``operator``; who holds it now (another: not taken)."""
        store = self._edge.parts.store
        holder = await store.desk.handoffs.claim(customer, operator)
        if holder != operator:
            return holder
        await _set_stage(store, customer, "taken")
        await store.desk.handoffs.ended(customer)
        await _note(store, customer, f"{CLAIMED}{operator}")
        self._edge.runtime.kick(customer)  # what arrived while the lock was held
        return operator

    async def say(self, customer: str, operator: str, text: str) -> Delivered:
        """Send ``text`` as ``operator``'s message; ``NotHolder`` unless they hold it."""
        parts = self._edge.parts
        holder = await parts.store.desk.handoffs.holder(customer)
        if holder != operator:
            raise NotHolder(holder)
        return await parts.delivery.deliver(Send(
            customer, (Reply(text, operator=operator),), "operator",
            note=f"{OPERATOR_NOTE}{operator}"))

    async def release_unclaimed(self, *, after: float = UNCLAIMED_AFTER) -> int:
        """Hand back to the bot every hand-off nobody claimed within ``after`` seconds, and
        tell the customer (once across processes: only the one that ends the wait does);
        how many."""
        store = self._edge.parts.store
        now = time.time()
        stale = [c for c, since in (await store.desk.handoffs.waiting()).items()
                 if since < now - after]
        released = 0
        for customer in stale:
            if await store.desk.handoffs.holder(customer) is not None:
                continue
            if not await store.desk.handoffs.ended(customer):
                continue  # another process took this one
            if await self._edge.runtime.release(customer):
                released += 1
                await self._edge.parts.delivery.deliver(Send(
                    customer, (Reply(DESK_UNCLAIMED),), "operator",
                    note="desk: nobody claimed it"))
        return released

    async def release(self, customer: str, operator: str, flow: str | None = None) -> bool:
        """Hand the conversation back to the bot at its step, or into ``flow``; False when it
        was neither handed off nor held."""
        store = self._edge.parts.store
        held = await store.desk.handoffs.holder(customer)
        released = await self._edge.runtime.release(customer)
        await store.desk.handoffs.unclaim(customer)
        await store.desk.handoffs.ended(customer)
        if flow is not None:
            await self._edge.inject(customer, StartFlowEvent(flow=flow, vars={}),
                                    event_id=f"desk:{uuid.uuid4().hex}")
        self._edge.runtime.kick(customer)
        if released or held:
            log.info("conversation released", extra={"customer": customer})
        return released or held is not None


async def _set_stage(store: Store, customer: str, stage: str) -> None:
    states = store.states
    lease = await states.locks.lease(customer)
    try:
        state, version = await states.load(customer, snapshot=lease.snapshot)
        changed = (state or DialogState()).model_copy(update={"handoff": stage})
        await states.save(customer, changed, version=version, lock=lease.lock)
    finally:
        await states.locks.release(lease.lock)


async def _note(store: Store, customer: str, note: str) -> None:
    await store.history.append(customer, HistoryEntry(
        ts=time.time(), channel="-", direction="event", text="", note=note))


def heard(store: Store) -> Callable[[OwnerNote], Awaitable[tuple[bool, int]]]:
    """The owner-notification hook of the desk: a hand-off is recorded as waiting and given
    a short number (for answers from the owner's messenger, ``bots.desk.relay``); it is
    heard when at least one operator can log in. (False, 0) when storage fails."""

    async def hook(note: OwnerNote) -> tuple[bool, int]:
        if note.kind != "handoff":
            return False, 0
        try:
            await store.desk.handoffs.began(note.customer, time.time())
            number = await store.desk.handoffs.short_number(note.customer)
            return any(not op.disabled for op in await store.desk.operators.all()), number
        except StorageError:
            return False, 0

    return hook
